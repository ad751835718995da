package upstream

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"slices"
	"strings"

	"gosrc.io/xmpp/stanza"
)

// XEP-0133 service administration nodes (Prosody: mod_admin_adhoc).
const (
	nodeAddUser        = "http://jabber.org/protocol/admin#add-user"
	nodeChangePassword = "http://jabber.org/protocol/admin#change-user-password"
	nsAdmin            = "http://jabber.org/protocol/admin"
)

// commandResult is a XEP-0050 <command/> reply. gosrc.io/xmpp's stanza.Command
// keeps only the last child element and reads <note/> as an untyped node, so a reply
// carrying a form, actions and a note loses parts; replies are read into this
// struct instead (with stanza.Form for the form), requests are marshalled with stanza.
type commandResult struct {
	Node      string `xml:"node,attr"`
	SessionID string `xml:"sessionid,attr"`
	Status    string `xml:"status,attr"`
	Notes     []struct {
		Type string `xml:"type,attr"`
		Text string `xml:",chardata"`
	} `xml:"note"`
	Form *stanza.Form `xml:"jabber:x:data x"`
}

// commandError is a command the server ran and said no to: Prosody completes it
// with an error note ("User does not exist", "Account already exists"), ejabberd
// answers the submitted form with a stanza error (Condition; see refusal.go).
type commandError struct {
	Node, Note string
	Condition  string // the stanza error condition, "" for an error note
}

func (e *commandError) Error() string { return "upstream command " + e.Node + " failed: " + e.Note }

// command runs a XEP-0133 command on the admin session: execute, then submit the
// form with fields (var, value pairs; values may be secrets and never appear in errors).
func (a *adminSession) command(ctx context.Context, node string, fields [][2]string) error {
	if hook := a.d.onCommand; hook != nil {
		hook(node)
	}
	c, err := a.conn(ctx)
	if err != nil {
		return err
	}
	domain := a.d.cfg.Domain
	exec, err := xml.Marshal(&stanza.Command{Node: node, Action: stanza.CommandActionExecute})
	if err != nil {
		return err
	}
	r, err := c.request(ctx, domain, string(exec))
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrUnavailable, node, err)
	}
	res, err := commandReply(node, r)
	if err != nil {
		return err
	}
	if res.Status != stanza.CommandStatusExecuting || res.SessionID == "" {
		return fmt.Errorf("%w: %s: expected a form, got status %q", ErrUnavailable, node, res.Status)
	}
	if res.Form != nil {
		for _, f := range fields {
			if !slices.ContainsFunc(res.Form.Fields, func(ff *stanza.Field) bool { return ff.Var == f[0] }) {
				return fmt.Errorf("%w: %s: form has no field %q", ErrUnavailable, node, f[0])
			}
		}
	}

	form := &stanza.Form{Type: stanza.FormTypeSubmit, Fields: []*stanza.Field{
		{Var: "FORM_TYPE", Type: stanza.FieldTypeHidden, ValuesList: []string{nsAdmin}},
	}}
	for _, f := range fields {
		form.Fields = append(form.Fields, &stanza.Field{Var: f[0], ValuesList: []string{f[1]}})
	}
	submit, err := xml.Marshal(&stanza.Command{Node: node, SessionId: res.SessionID, Action: stanza.CommandActionComplete, CommandElement: form})
	if err != nil {
		return err
	}
	r, err = c.request(ctx, domain, string(submit))
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrUnavailable, node, err)
	}
	if ce := submitRefusal(node, r); ce != nil {
		return ce
	}
	res, err = commandReply(node, r)
	if err != nil {
		return err
	}
	if res.Status != stanza.CommandStatusCompleted {
		return fmt.Errorf("%w: %s: status %q", ErrUnavailable, node, res.Status)
	}
	for _, n := range res.Notes {
		if n.Type == stanza.CommandNoteTypeErr {
			return &commandError{Node: node, Note: n.Text}
		}
	}
	return nil
}

// commandReply checks an IQ reply carries a command; an IQ error (forbidden: the
// admin JID is no admin; item-not-found: no such command) is a setup problem.
func commandReply(node string, r *iqReply) (*commandResult, error) {
	if r.Type != "result" {
		return nil, fmt.Errorf("%w: %s: %s", ErrUnavailable, node, r.condition())
	}
	if r.Command == nil {
		return nil, fmt.Errorf("%w: %s: reply without command", ErrUnavailable, node)
	}
	return r.Command, nil
}

// provision sets the managed secret as jid's upstream password, creating the
// account if it is missing and CreateAccounts allows. Concurrent logins of one
// user share a single run, which outlives a caller that gives up.
func (d *Dialer) provision(ctx context.Context, jid, password string) error {
	ch := d.admin.provisions.DoChan(jid, func() (any, error) {
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.LoginTimeout)
		defer cancel()
		return nil, d.setPassword(pctx, jid, password)
	})
	select {
	case r := <-ch:
		return r.Err
	case <-ctx.Done():
		return fmt.Errorf("%w: provisioning: %w", ErrUnavailable, ctx.Err())
	}
}

// errAccountExists: add-user found the account, and take-over is off.
var errAccountExists = errors.New("upstream account exists")

// setPassword makes password the upstream password of jid. A missing account is
// created (CreateAccounts); an existing one is taken over only with
// TakeOverExisting, since its password may belong to someone the IdP does not
// know (an account that predates SSO, or one an admin made by hand).
func (d *Dialer) setPassword(ctx context.Context, jid, password string) error {
	var ce *commandError
	if d.cfg.CreateAccounts {
		err := d.admin.command(ctx, nodeAddUser, [][2]string{{"accountjid", jid}, {"password", password}, {"password-verify", password}})
		if !errors.As(err, &ce) {
			d.provisioned(nodeAddUser, err)
			if err == nil {
				d.log.Info().Str("jid", jid).Msg("created upstream account")
			}
			return err // nil, or the admin session failed
		}
		if ce.Condition == condItemNotFound {
			d.provisioned(nodeAddUser, err)
			return fmt.Errorf("%w: upstream refused to create the account (%s)", ErrRejected, ce.Note)
		}
		// Refused: the account exists (Prosody: "Account already exists"; ejabberd: <conflict/>).
	}
	if !d.cfg.TakeOverExisting {
		return errAccountExists // loginManaged decides, after one more login
	}
	err := d.admin.command(ctx, nodeChangePassword, [][2]string{{"accountjid", jid}, {"password", password}})
	d.provisioned(nodeChangePassword, err)
	if errors.As(err, &ce) {
		return fmt.Errorf("%w: upstream account cannot be updated (%s)", ErrRejected, ce.Note)
	}
	if err == nil {
		d.log.Warn().Str("jid", jid).Msg("took over an existing upstream account: its old password no longer works")
	}
	return err
}

// provisioned reports one account change to OnProvision.
func (d *Dialer) provisioned(node string, err error) {
	if d.cfg.OnProvision == nil {
		return
	}
	action := node
	if i := strings.LastIndexByte(node, '#'); i >= 0 {
		action = node[i+1:]
	}
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	d.cfg.OnProvision(action, outcome)
}

package upstream

// Stanza error conditions ejabberd gives a submitted admin form it will not
// carry out (see ejabberd.md).
const (
	condConflict     = "conflict"
	condItemNotFound = "item-not-found"
)

// submitRefusal reads a stanza error to a submitted XEP-0133 form as the
// server refusing this account, where Prosody would complete the command
// with an error note. ejabberd 23.01's mod_configure answers add-user of an
// existing account with <conflict/>, and input it cannot carry out (e.g.
// change-user-password of a missing account) with <item-not-found/> "No hook
// has processed this command". Only the submit step counts: an error to the
// execute step (forbidden, no such command) is the operator's to fix.
func submitRefusal(node string, r *iqReply) *commandError {
	if r.Type != "error" {
		return nil
	}
	cond := r.condition()
	if cond != condConflict && cond != condItemNotFound {
		return nil
	}
	note := cond
	if r.Error.Text != "" {
		note += ": " + r.Error.Text
	}
	return &commandError{Node: node, Note: note, Condition: cond}
}

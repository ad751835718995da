package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/credstore"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/app"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/config"
)

// appPasswordsCommand lets an operator see and revoke a user's app passwords
// in the same store the proxy uses (with PostgreSQL, running proxies end the
// revoked sessions at once).
func appPasswordsCommand() *cobra.Command {
	var path, user string
	cmd := &cobra.Command{
		Use:   "app-passwords",
		Short: "List or revoke a user's app passwords",
	}
	cmd.PersistentFlags().StringVarP(&path, "config", "c", "", "configuration file (YAML)")
	cmd.PersistentFlags().StringVar(&user, "user", "", "the user's bare JID, e.g. alice@example.org")
	_ = cmd.MarkPersistentFlagRequired("config")
	_ = cmd.MarkPersistentFlagRequired("user")

	list := &cobra.Command{
		Use:   "list -c FILE --user JID",
		Short: "List a user's app passwords (never the passwords themselves)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(cmd.Context(), path, func(ctx context.Context, s *credstore.Store) error {
				return listAppPasswords(ctx, cmd.OutOrStdout(), s, normaliseJID(user))
			})
		},
	}
	var id string
	var all bool
	revoke := &cobra.Command{
		Use:   "revoke -c FILE --user JID (--id ID | --all)",
		Short: "Revoke one or all of a user's app passwords",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (id == "") == !all {
				return errors.New("give exactly one of --id and --all")
			}
			return withStore(cmd.Context(), path, func(ctx context.Context, s *credstore.Store) error {
				return revokeAppPasswords(ctx, cmd.OutOrStdout(), s, normaliseJID(user), id)
			})
		},
	}
	revoke.Flags().StringVar(&id, "id", "", "the app password's id (from list)")
	revoke.Flags().BoolVar(&all, "all", false, "revoke every active app password of the user")
	cmd.AddCommand(list, revoke)
	return cmd
}

// normaliseJID lower-cases the bare JID the way the store keys owners.
func normaliseJID(j string) string { return strings.ToLower(strings.TrimSpace(j)) }

func withStore(ctx context.Context, path string, fn func(context.Context, *credstore.Store) error) error {
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	s, err := app.OpenStore(cfg)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if s == nil {
		return errors.New("no credential store configured (store.path or store.dsn)")
	}
	defer s.Close()
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return fn(ctx, s)
}

func listAppPasswords(ctx context.Context, out io.Writer, s *credstore.Store, jid string) error {
	aps, err := s.List(ctx, jid)
	if err != nil {
		return err
	}
	devices, err := s.ListFAST(ctx, jid)
	if err != nil {
		return err
	}
	if len(aps) == 0 && len(devices) == 0 {
		fmt.Fprintf(out, "%s has no app passwords\n", jid)
		return nil
	}
	w := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tLABEL\tCREATED\tLAST USED\tFROM\tSTATE")
	for _, ap := range aps {
		state := "active"
		if !ap.RevokedAt.IsZero() {
			state = "revoked " + stamp(ap.RevokedAt) + " (" + ap.RevokedReason + ")"
		}
		fmt.Fprintf(w, "%s\t%q\t%s\t%s\t%s\t%s\n", ap.ID, ap.Label, stamp(ap.CreatedAt), stamp(ap.LastUsedAt), ap.LastUsedAddr, state)
	}
	for _, d := range devices { // FAST tokens (XEP-0484): listed while active
		fmt.Fprintf(w, "%s\t%q\t%s\t%s\t%s\t%s\n", d.ID, d.Label, stamp(d.CreatedAt), stamp(d.LastUsedAt), d.LastUsedAddr,
			"active FAST token ("+d.Mechanism+"), expires "+stamp(d.ExpiresAt))
	}
	return w.Flush()
}

func revokeAppPasswords(ctx context.Context, out io.Writer, s *credstore.Store, jid, id string) error {
	ids := []string{id}
	if id == "" {
		aps, err := s.List(ctx, jid)
		if err != nil {
			return err
		}
		ids = ids[:0]
		for _, ap := range aps {
			if ap.RevokedAt.IsZero() {
				ids = append(ids, ap.ID)
			}
		}

	}
	for _, one := range ids {
		if err := s.Revoke(ctx, jid, one); err != nil {
			if errors.Is(err, credstore.ErrNotFound) {
				return fmt.Errorf("%s has no active app password %s", jid, one)
			}
			return err
		}
		fmt.Fprintf(out, "revoked %s\n", one)
	}
	revoked := len(ids)
	if id == "" {
		// --all: FAST tokens too (those its app passwords minted went with them).
		devices, err := s.ListFAST(ctx, jid)
		if err != nil {
			return err
		}
		for _, d := range devices {
			if err := s.Revoke(ctx, jid, d.ID); err != nil {
				return err
			}
			fmt.Fprintf(out, "revoked FAST token %s\n", d.ID)
		}
		revoked += len(devices)
	}
	if revoked == 0 {
		fmt.Fprintf(out, "%s has no active app passwords\n", jid)
	}
	return nil
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04Z")
}

package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/app"
	"github.com/xmpp-oauth-proxy/xmpp-oauth-proxy/internal/config"
)

func checkConfigCommand() *cobra.Command {
	var (
		path    string
		probe   bool
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "check-config -c FILE",
		Short: "Validate a configuration file (and with --probe, the IdP and upstreams)",
		Long: "Validate a configuration file: keys, types, URLs, certificates and secret files.\n" +
			"With --probe also fetch the IdP's discovery document, report the endpoints found,\n" +
			"and check that every upstream XMPP server answers. Exits non-zero on any problem.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return checkConfig(cmd.Context(), cmd.OutOrStdout(), path, probe, timeout)
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", "", "configuration file (YAML)")
	cmd.Flags().BoolVar(&probe, "probe", false, "also contact the IdP and the upstream servers")
	cmd.Flags().DurationVar(&timeout, "timeout", 15*time.Second, "how long --probe may take")
	_ = cmd.MarkFlagRequired("config")
	return cmd
}

func checkConfig(ctx context.Context, out io.Writer, path string, probe bool, timeout time.Duration) error {
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	a, err := app.New(cfg, zerolog.Nop())
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	fmt.Fprintf(out, "%s: configuration is valid (%d listeners, %d domains)\n", path, len(cfg.Listeners), len(cfg.Domains))
	if !probe {
		return nil
	}
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	return a.Probe(ctx, out)
}

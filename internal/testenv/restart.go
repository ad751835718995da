package testenv

import (
	"context"
	"path/filepath"
)

// RestartProsody kills Prosody (as a crash would: no stream is closed) and
// starts it again on the same ports, with the same accounts on disk.
func (e *Env) RestartProsody(ctx context.Context) error {
	p := e.Prosody
	p.proc.kill()
	p.proc = nil
	return p.start(ctx, filepath.Dir(p.ConfigPath))
}

// RestartIdP kills Glewlwyd and starts it again on the same port, with the
// same users, clients and signing keys (they live in its database).
func (e *Env) RestartIdP(ctx context.Context) error {
	g := e.IdP
	g.proc.kill()
	g.proc = nil
	return g.start(ctx)
}

package upstream

import (
	"context"
)

// Dialer logs users in to the upstream server. It is safe for concurrent use.
type Dialer struct {
	cfg Config
}

// New validates cfg and returns a Dialer. It starts nothing on the network.
func New(cfg Config) (*Dialer, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Dialer{cfg: cfg}, nil
}

// Start connects the long-lived admin session (managed credentials) in the background
// and keeps it connected, with backoff, until ctx ends or Close. Calling it is optional:
// Login connects the admin session on first need.
func (d *Dialer) Start(ctx context.Context) {}

// Login logs in upstream as the user c describes, up to the upstream's <success/>.
// Errors wrap ErrUnavailable or ErrRejected.
func (d *Dialer) Login(ctx context.Context, c Credentials) (*Session, error) {
	return nil, ErrUnavailable
}

// Probe dials the upstream, negotiates TLS and reads its stream features: is it answering?
func (d *Dialer) Probe(ctx context.Context) error { return ErrUnavailable }

// Close stops the admin session. Sessions already handed out are not affected.
func (d *Dialer) Close() error { return nil }

package saslauth

import "context"

type clientAddrKey struct{}

// WithClientAddr tells an Authenticator, through ctx, where the client
// connects from (an IP address as text), e.g. to record an app password's
// last use.
func WithClientAddr(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, clientAddrKey{}, addr)
}

// ClientAddr is the address WithClientAddr put in ctx, or "".
func ClientAddr(ctx context.Context) string {
	a, _ := ctx.Value(clientAddrKey{}).(string)
	return a
}

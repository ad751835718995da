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

type clientAgentKey struct{}

// WithClientAgent tells an Authenticator, through ctx, what the client calls
// itself (XEP-0388 user-agent software and device), e.g. to show beside an
// app password's last use. The client's words: display them escaped.
func WithClientAgent(ctx context.Context, agent string) context.Context {
	return context.WithValue(ctx, clientAgentKey{}, agent)
}

// ClientAgent is the text WithClientAgent put in ctx, or "".
func ClientAgent(ctx context.Context) string {
	a, _ := ctx.Value(clientAgentKey{}).(string)
	return a
}

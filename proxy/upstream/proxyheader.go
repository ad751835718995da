package upstream

import (
	"context"
	"fmt"
	"net"

	"github.com/pires/go-proxyproto"
)

type clientAddrKey struct{}

// WithClientAddr tells Login on whose behalf it connects, for the PROXY header
// (Config.SendProxyHeader): the upstream then sees the user's address, not ours.
func WithClientAddr(ctx context.Context, addr net.Addr) context.Context {
	return context.WithValue(ctx, clientAddrKey{}, addr)
}

// ClientAddrFrom returns the address WithClientAddr put in ctx, or nil.
func ClientAddrFrom(ctx context.Context) net.Addr {
	addr, _ := ctx.Value(clientAddrKey{}).(net.Addr)
	return addr
}

// writeProxyHeader sends a PROXY v2 header first thing on raw: the client's
// address when ctx has one, else a LOCAL header (our own connections, such as the
// admin session and probes), as servers behind a PROXY listener need one on every
// connection (Prosody's mod_net_proxy).
func writeProxyHeader(ctx context.Context, raw net.Conn) error {
	h := &proxyproto.Header{Version: 2, Command: proxyproto.LOCAL, TransportProtocol: proxyproto.UNSPEC}
	if src, ok := ClientAddrFrom(ctx).(*net.TCPAddr); ok && src != nil {
		h = proxyproto.HeaderProxyFromAddrs(2, src, raw.RemoteAddr())
	}
	if _, err := h.WriteTo(raw); err != nil {
		return fmt.Errorf("%w: PROXY header: %w", ErrUnavailable, err)
	}
	return nil
}

//go:build !linux

package app_test

import "net"

const quickAckSupported = false

// withQuickAck: TCP_QUICKACK is Linux only; elsewhere the connection is unchanged.
func withQuickAck(c net.Conn) (net.Conn, bool) { return c, false }

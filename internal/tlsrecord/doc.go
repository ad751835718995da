// Package tlsrecord provides the socket wrapper that lets an idle relayed TLS
// session park no read buffer: under a *tls.Conn it hands crypto/tls one TLS
// record at a time, so the relay knows when crypto/tls holds nothing unread and can
// wait for the socket to become readable before taking a buffer. Both the client
// side (proxy) and the upstream side (proxy/upstream) build their TLS over it.
package tlsrecord

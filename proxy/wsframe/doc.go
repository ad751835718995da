// Package wsframe translates between XMPP over WebSocket (RFC 7395) and the
// byte stream of an XMPP TCP connection (RFC 6120). It is pure: no network, no
// goroutines, bounded memory.
//
//   - Splitter cuts a stream's bytes, in chunks of any size, into stream headers,
//     complete top-level elements and the stream's end, holding at most one
//     unfinished unit of at most its limit in bytes.
//   - Downstream turns what an XMPP server (or the proxy itself) writes to a TCP
//     client into WebSocket text messages: the <stream:stream> header becomes
//     <open/>, </stream:stream> becomes <close/>, and each top-level element
//     becomes a standalone document carrying the namespace declarations it used
//     to inherit from the stream header (xmlns='jabber:client', xmlns:stream).
//   - FromClient turns one WebSocket message of a client into bytes for the TCP
//     stream: <open/> becomes a stream header, <close/> becomes
//     </stream:stream>, and anything else must be exactly one complete element.
//
// The scanner checks structure (tags balanced and matching, quoted attributes,
// no text, comments, processing instructions or DTDs at stream level), not
// meaning: entity references, UTF-8 and namespace bindings are left to the
// XML parsers at either end.
package wsframe

// Package metrics exposes the proxy's Prometheus metrics and its health endpoints
// on a separate HTTP listener. Its methods satisfy the observer interfaces of
// proxy, proxy/upstream and oauthx without importing them. Labels carry only
// fixed vocabularies (listener names, mechanisms, outcomes): never a username,
// JID, address or token.
package metrics

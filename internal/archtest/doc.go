// Package archtest holds one test: the rule that imports point one way
// (cmd -> internal/app -> proxy -> saslauth, proxy/upstream; oauthx knows no
// XMPP; saslauth knows no HTTP; credstore knows no HTTP, no XMPP and none of
// the project's packages). It has no code of its own.
package archtest

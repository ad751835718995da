// Package credstore keeps the credentials users log in with instead of their
// IdP password: per-device app passwords today, FAST tokens later, each
// hanging off a grant (one sign-in at the IdP, with its refresh token).
//
// It knows SQL (embedded SQLite by default, PostgreSQL for several replicas,
// migrations embedded and applied by Open), hashing and encryption at rest.
// It knows no HTTP and no XMPP wire, and imports none of the project's
// packages: the wiring (internal/app) adapts it to the SASL layer's
// interfaces and feeds its revocation events (Subscribe) to the live-session
// layer; the portal calls it directly.
//
// # Why a fast keyed hash
//
// An app password carries 141 random bits (6 groups of 5 letters from a
// 26-letter alphabet). Slow, salted hashes (bcrypt, Argon2) exist to make
// guessing low-entropy human passwords expensive after a database leak; a
// random 141-bit secret cannot be guessed however fast the hash is, so they
// would only cost CPU on every login. The store keeps HMAC-SHA256(hash key,
// kind || password): without the hash key (from the config, not in the
// database) a leaked table is useless even for an offline search. Since the
// hash has no per-password salt it is deterministic, so it is the lookup key
// itself: a unique index on credentials.secret_hash makes Verify one indexed
// query, O(1) in the number of users and passwords, and the typed username
// is then compared with the row's owner.
//
// # Secrets
//
// Plaintext app passwords are returned once, as a Secret whose String,
// GoString and marshalled forms are redacted. Refresh tokens are sealed with
// AES-256-GCM under the current encryption key; the key id is stored beside
// the ciphertext so any configured key decrypts and Rotate re-encrypts under
// the current one. No error, log line or String output carries a password,
// token or key.
//
// # Performance
//
// BenchmarkVerify, 1000 stored passwords, 2 shared cores: an accepted
// Verify takes 26–31 µs on SQLite and 43–58 µs on a local PostgreSQL; a
// refused one 20–27 and 51–56 µs. Design, key rotation procedure and
// figures: docs/credstore.md.
package credstore

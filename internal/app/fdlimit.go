package app

// fdReserve are descriptors kept for what is not a client session: listeners,
// the IdP's HTTP connections, upstream admin sessions, the store, logs.
const fdReserve = 256

// boundedMaxConnections caps max_connections to what the descriptor limit
// allows: each session holds two descriptors (client and upstream), and past
// the limit accept and dial fail with EMFILE instead of a clean
// resource-constraint. It reports whether it had to lower the value.
func boundedMaxConnections(configured int, nofile uint64) (int, bool) {
	if nofile == 0 || configured <= 0 {
		return configured, false
	}
	fit := (int64(nofile) - fdReserve) / 2
	if fit < 1 {
		fit = 1
	}
	if int64(configured) <= fit {
		return configured, false
	}
	return int(fit), true
}

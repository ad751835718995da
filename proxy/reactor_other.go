//go:build !linux

package proxy

// Without a reactor every direction keeps its goroutine (mustWait is never true, so
// park, arm and disarm are not reached).
func reactorReady() bool { return false }

func (d *direction) arm() error { return nil }

func (d *direction) disarm() {}

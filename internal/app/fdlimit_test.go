package app

import "testing"

func TestBoundedMaxConnections(t *testing.T) {
	for _, c := range []struct {
		configured int
		nofile     uint64
		want       int
		lowered    bool
	}{
		{10000, 1 << 20, 10000, false},
		{10000, 20000, (20000 - fdReserve) / 2, true},
		{10000, 1024, (1024 - fdReserve) / 2, true},
		{10000, 100, 1, true},
		{10000, 0, 10000, false}, // unknown limit
		{-1, 1024, -1, false},    // limit switched off stays off
	} {
		got, lowered := boundedMaxConnections(c.configured, c.nofile)
		if got != c.want || lowered != c.lowered {
			t.Errorf("boundedMaxConnections(%d, %d) = %d, %v; want %d, %v", c.configured, c.nofile, got, lowered, c.want, c.lowered)
		}
	}
}

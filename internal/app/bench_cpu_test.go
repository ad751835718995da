package app_test

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// procCPU is the CPU time (user + system) pid has used, from /proc/<pid>/stat;
// false where there is no /proc. On a box whose cores every process shares, a
// login's cost is its CPU in all of them, so the benchmarks count each one.
func procCPU(pid int) (time.Duration, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	s := string(b)
	// The command name may hold spaces; the fields that follow it do not.
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, false
	}
	// Fields 14 and 15 of stat (utime, stime), counted after "pid (comm)".
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	const userHZ = 100 // USER_HZ, fixed at 100 on Linux
	return time.Duration(ut+st) * time.Second / userHZ, true
}

// cpuMeter samples several processes' CPU time at once.
type cpuMeter struct {
	names []string
	pids  []int
	start []time.Duration
}

func newCPUMeter(names []string, pids []int) *cpuMeter {
	m := &cpuMeter{names: names, pids: pids, start: make([]time.Duration, len(pids))}
	for i, p := range pids {
		m.start[i], _ = procCPU(p)
	}
	return m
}

// perOp is each process's CPU since newCPUMeter divided by n, in ms, and the sum.
func (m *cpuMeter) perOp(n int64) (names []string, ms []float64, total float64) {
	if n <= 0 {
		return nil, nil, 0
	}
	for i, p := range m.pids {
		now, ok := procCPU(p)
		if !ok {
			continue
		}
		v := float64(now-m.start[i]) / float64(time.Millisecond) / float64(n)
		names = append(names, m.names[i])
		ms = append(ms, v)
		total += v
	}
	return names, ms, total
}

//go:build !linux

package upstream

const quickAckSupported = false

func setQuickAck(fd uintptr) {}

//go:build !unix

package app

func openFileLimit() uint64 { return 0 }

//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package benchserve

// processCPU cannot read the process's CPU time on this system.
func processCPU() (ns int64, ok bool) { return 0, false }

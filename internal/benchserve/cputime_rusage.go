//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package benchserve

import "syscall"

// processCPU returns the CPU time the process has used so far, user and
// system, in nanoseconds, every thread included (the garbage collector's
// too); ok is false when it cannot be read.
func processCPU() (ns int64, ok bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return ru.Utime.Nano() + ru.Stime.Nano(), true
}

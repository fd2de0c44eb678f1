//go:build !linux

package lambda_test

import "syscall"

// setDeathSignal is a no-op where the kernel has no parent-death signal;
// the test cleanup still kills the emulator when it can run.
func setDeathSignal(*syscall.SysProcAttr) {}

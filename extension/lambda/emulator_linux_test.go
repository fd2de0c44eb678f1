package lambda_test

import "syscall"

// setDeathSignal makes the kernel kill a child process when the test
// binary dies, even when test cleanups cannot run.
func setDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }

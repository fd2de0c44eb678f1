//go:build unix

package h1

import (
	"net"
	"syscall"
)

// alive reports whether the server has neither closed nor reset an idle
// connection, nor sent anything on it: a non-blocking peek must find
// nothing to read yet.
func alive(nc net.Conn) bool {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	var p probe
	if err := rc.Read(p.peek); err != nil {
		return false
	}
	return p.alive
}

// probe holds the outcome of one non-blocking peek.
type probe struct {
	buf   [1]byte
	alive bool
}

func (p *probe) peek(fd uintptr) bool {
	_, _, err := syscall.Recvfrom(int(fd), p.buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	p.alive = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
	return true // never wait for readiness
}

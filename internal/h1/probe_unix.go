//go:build unix

package h1

import (
	"net"
	"syscall"
)

// probe looks at a connection without reading from it. Its peek is
// bound once, when the connection is made, so that a look costs one
// system call and no allocation.
type probe struct {
	// rc is nil for a connection without a socket, taken as quiet.
	rc syscall.RawConn
	// failed reports that the socket could not be had: never quiet.
	failed bool
	fn     func(fd uintptr) bool
	buf    [1]byte
	alive  bool
}

func (p *probe) init(nc net.Conn) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		p.failed = true
		return
	}
	p.rc, p.fn = rc, p.peek
}

// quiet reports whether the server has neither closed nor reset the
// connection, nor sent anything on it: a non-blocking peek must find
// nothing to read yet. The connection's read deadline must not have
// passed.
func (p *probe) quiet() bool {
	if p.failed {
		return false
	}
	if p.rc == nil {
		return true
	}
	if err := p.rc.Read(p.fn); err != nil {
		return false
	}
	return p.alive
}

func (p *probe) peek(fd uintptr) bool {
	_, _, err := syscall.Recvfrom(int(fd), p.buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	p.alive = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
	return true // never wait for readiness
}

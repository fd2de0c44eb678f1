//go:build !unix

package h1

import "net"

// probe cannot look at the socket on this platform: a connection the
// server closed is found when it is used, and the request sent again when
// it can be; bytes a server sends unasked are read as the next answer.
type probe struct{}

func (p *probe) init(net.Conn) {}

func (p *probe) quiet() bool { return true }

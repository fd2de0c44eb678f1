package h1

import (
	"bufio"
	"context"
	"errors"
	"net"
	"sync"
	"time"
)

// conn is one connection to a server. It is used by one request at a
// time: the request's goroutine, then whoever reads the response body.
//
// No goroutine watches the request's context. Instead the connection's
// deadline is never later than the context's deadline, nor more than
// watchPeriod away: when it passes, the I/O that was blocked checks the
// context and either fails with the context's error or moves the
// deadline on. Timeouts are thus exact, and a cancellation ends blocked
// I/O within watchPeriod, at the cost of one SetDeadline now and then
// instead of a context registration per request.
type conn struct {
	nc   net.Conn
	br   *bufio.Reader // while in use; nil while idle
	pool *pool
	// idleSince is when the connection went back to the pool.
	idleSince time.Time
	// reused reports whether the connection served a request before.
	reused bool
	// closeAfter is set when the connection must not be reused.
	closeAfter bool
	// ctx is the context of the request using the connection.
	ctx context.Context
	// deadline is the deadline set on nc, zero for none.
	deadline time.Time
	// expectUntil, when set, ends a wait for 100 Continue.
	expectUntil time.Time
	// probe looks for bytes from the server before a reuse, and while a
	// write is blocked.
	probe probe
}

// watchPeriod bounds how long blocked I/O goes without looking at the
// request's context.
const watchPeriod = 100 * time.Millisecond

// errExpectTimeout ends a wait for 100 Continue.
var errExpectTimeout = errors.New("h1: no 100 Continue in time")

// ctxError is the error of I/O that the request's context ended.
type ctxError struct{ err error }

func (e *ctxError) Error() string { return "h1: " + e.err.Error() }
func (e *ctxError) Unwrap() error { return e.err }

// use starts a request on the connection.
func (c *conn) use(ctx context.Context, now time.Time) {
	c.ctx = ctx
	c.watch(now, false)
}

// watch sets the deadline for the next blocked I/O: the context's
// deadline, the end of a wait for 100 Continue, or watchPeriod from now,
// whichever is first. Unless forced, a deadline already set is kept while
// it is not later than that and at least half a period away, so that a
// busy connection seldom needs a new one.
func (c *conn) watch(now time.Time, force bool) {
	want := now.Add(watchPeriod)
	if dl, ok := c.ctx.Deadline(); ok && dl.Before(want) {
		want = dl
	}
	if !c.expectUntil.IsZero() && c.expectUntil.Before(want) {
		want = c.expectUntil
	}
	if force || c.deadline.IsZero() || want.Before(c.deadline) || c.deadline.Before(now.Add(watchPeriod/2)) {
		c.nc.SetDeadline(want)
		c.deadline = want
	}
}

// deadlinePassed is called when blocked I/O reached the deadline: it
// returns the context's error, or errExpectTimeout, or moves the deadline
// on and returns nil for the I/O to go on.
func (c *conn) deadlinePassed() error {
	now := time.Now()
	if err := contextEnded(c.ctx, now); err != nil {
		return &ctxError{err}
	}
	if !c.expectUntil.IsZero() && !now.Before(c.expectUntil) {
		return errExpectTimeout
	}
	c.watch(now, true)
	return nil
}

// Read reads from the server for the connection's read buffer.
func (c *conn) Read(p []byte) (int, error) {
	for {
		n, err := c.nc.Read(p)
		if err == nil || !isTimeout(err) {
			return n, err
		}
		if err := c.deadlinePassed(); err != nil {
			return n, err
		}
		if n > 0 {
			return n, nil
		}
	}
}

// errAnsweredEarly stops a write blocked while the server has answered
// (or closed the connection) without reading what was sent.
var errAnsweredEarly = errors.New("h1: server answered before reading the whole request")

// write writes all of b to the server. A write blocked past a watch
// period gives up when the server has sent something meanwhile: a server
// that answers early and stops reading must get its answer read, not
// wait forever for the rest of the request.
func (c *conn) write(b []byte) error {
	for {
		n, err := c.nc.Write(b)
		if err == nil || !isTimeout(err) {
			return err
		}
		if err := c.deadlinePassed(); err != nil {
			return err
		}
		if c.br != nil && c.br.Buffered() > 0 || !c.probe.quiet() {
			return errAnsweredEarly
		}
		b = b[n:]
	}
}

// releaseReader gives the read buffer back to the transport.
func (c *conn) releaseReader() {
	c.ctx = nil
	if c.br != nil {
		c.br.Reset(nil)
		c.pool.t.readers.Put(c.br)
		c.br = nil
	}
}

// close closes the connection for good.
func (c *conn) close() {
	c.releaseReader()
	c.nc.Close()
	c.pool.mu.Lock()
	c.pool.active--
	c.pool.mu.Unlock()
}

// pool holds the idle connections to one server address, most recently
// used last. Connections idle longer than Options.IdleTimeout are closed
// by a timer that runs only while some are idle.
type pool struct {
	t    *Transport
	addr string

	mu     sync.Mutex
	idle   []*conn
	active int // connections handed out and not yet back
	timer  *time.Timer
	armed  bool
}

// get returns an idle connection that the server has neither closed nor
// written to, or nil. Every connection is looked at before it is handed
// out, however briefly it was idle: bytes a server sends after an answer
// has ended (a body a 204 or a HEAD answer must not have, a second
// answer) would otherwise be read as the answer to the next request on
// it, someone else's. Bytes that arrive after the look and before the
// request is written cannot be told from its answer, as in net/http.
func (p *pool) get(now time.Time) *conn {
	for {
		p.mu.Lock()
		n := len(p.idle)
		if n == 0 {
			p.mu.Unlock()
			return nil
		}
		c := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		idle := now.Sub(c.idleSince)
		if idle >= p.t.opts.IdleTimeout {
			// The most recent one has expired, so have all the others.
			for i, old := range p.idle {
				old.nc.Close()
				p.idle[i] = nil
			}
			p.idle = p.idle[:0]
			p.mu.Unlock()
			c.nc.Close()
			return nil
		}
		p.active++
		p.mu.Unlock()
		if !c.deadline.IsZero() && c.deadline.Before(now.Add(watchPeriod/2)) {
			// The deadline of the last request has passed, or is about
			// to, and would fail the look.
			c.nc.SetDeadline(time.Time{})
			c.deadline = time.Time{}
		}
		if !c.probe.quiet() {
			c.close()
			continue
		}
		c.reused = true
		return c
	}
}

// put returns a connection whose last answer was read completely.
func (p *pool) put(c *conn, now time.Time) {
	c.releaseReader()
	c.idleSince = now
	p.mu.Lock()
	p.active--
	if len(p.idle) >= p.t.opts.MaxIdlePerHost {
		p.mu.Unlock()
		c.nc.Close()
		return
	}
	p.idle = append(p.idle, c)
	if !p.armed {
		p.armed = true
		if p.timer == nil {
			p.timer = time.AfterFunc(p.t.opts.IdleTimeout, p.sweep)
		} else {
			p.timer.Reset(p.t.opts.IdleTimeout)
		}
	}
	p.mu.Unlock()
}

// added counts a new connection as handed out.
func (p *pool) added() {
	p.mu.Lock()
	p.active++
	p.mu.Unlock()
}

// sweep closes the connections idle for too long. A pool left with no
// connection at all is dropped from the transport, so that addresses no
// longer used do not accumulate.
func (p *pool) sweep() {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	timeout := p.t.opts.IdleTimeout
	i := 0
	for i < len(p.idle) && now.Sub(p.idle[i].idleSince) >= timeout {
		p.idle[i].nc.Close()
		i++
	}
	n := copy(p.idle, p.idle[i:])
	clear(p.idle[n:])
	p.idle = p.idle[:n]
	if n > 0 {
		p.timer.Reset(timeout - now.Sub(p.idle[0].idleSince))
		return
	}
	p.armed = false
	if p.active == 0 {
		p.t.pools.CompareAndDelete(p.addr, p)
	}
}

// closeIdle closes every idle connection.
func (p *pool) closeIdle() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, c := range p.idle {
		c.nc.Close()
		p.idle[i] = nil
	}
	p.idle = p.idle[:0]
}

// idleCount returns the number of idle connections (for tests).
func (p *pool) idleCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}

// Package h1 is a lean HTTP/1.1 client transport for proxying to
// cleartext origin servers.
//
// A request is carried by the goroutine that calls RoundTrip: it takes a
// pooled keep-alive connection (or dials one), writes the request and
// reads the response head itself; the response body is read by whoever
// reads Response.Body. No goroutine belongs to a connection, so a request
// costs no hand-offs between goroutines, and buffers are pooled: writing a
// request does not allocate, and reading a response allocates its header
// map, one string holding every field, and the Response.
//
// Responses are parsed strictly, per RFC 9112: a status line and fields
// ending in CRLF (a bare LF is an error), no obs-fold, no whitespace
// before a field's colon, field values without control characters, a head
// no larger than Options.MaxHeaderBytes, at most one Content-Length (a
// non-negative decimal), Transfer-Encoding only as exactly "chunked" in an
// HTTP/1.1 answer and never together with Content-Length, well-formed
// chunks and trailers. Bodies are delimited by Content-Length, chunked
// coding or the end of the connection; 1xx answers are passed to an
// httptrace.ClientTrace's Got1xxResponse; "Expect: 100-continue" holds the
// body back until a 100 arrives or Options.ExpectContinueTimeout passes.
//
// Requests that this transport does not carry (see Supports) are the
// caller's to send another way: upgrades, CONNECT, other schemes.
package h1

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"os"
	"sync"
	"syscall"
	"time"
)

// Defaults of Options.
const (
	DefaultDialTimeout           = 10 * time.Second
	DefaultKeepAlive             = 30 * time.Second
	DefaultIdleTimeout           = 4 * time.Second
	DefaultMaxIdlePerHost        = 512
	DefaultExpectContinueTimeout = time.Second
	DefaultMaxHeaderBytes        = 64 << 10
	DefaultMaxReplayBody         = 64 << 10
)

// Options configure a Transport; zero fields take the defaults above.
type Options struct {
	// DialTimeout bounds connecting to a server.
	DialTimeout time.Duration
	// KeepAlive is the period of TCP keep-alive probes.
	KeepAlive time.Duration
	// IdleTimeout is how long a connection may stay idle in the pool
	// before it is closed.
	IdleTimeout time.Duration
	// MaxIdlePerHost bounds the idle connections kept per server address.
	MaxIdlePerHost int
	// ExpectContinueTimeout is how long a request with
	// "Expect: 100-continue" waits for the 100 before sending its body.
	ExpectContinueTimeout time.Duration
	// MaxHeaderBytes bounds a response head (status line and fields) and,
	// separately, its trailer section.
	MaxHeaderBytes int
	// MaxReplayBody is the largest body of known length that is read
	// before the request is sent, so that the request can be sent again
	// when a pooled connection turns out to be closed by the server.
	MaxReplayBody int
}

// Transport is an HTTP/1.1 client transport. Its zero value is not
// usable; use New. It is safe for concurrent use.
type Transport struct {
	opts    Options
	dialer  net.Dialer
	pools   sync.Map // server address -> *pool
	scratch sync.Pool
	readers sync.Pool
}

// New returns a Transport with the given options.
func New(opts Options) *Transport {
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = DefaultDialTimeout
	}
	if opts.KeepAlive == 0 {
		opts.KeepAlive = DefaultKeepAlive
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.MaxIdlePerHost <= 0 {
		opts.MaxIdlePerHost = DefaultMaxIdlePerHost
	}
	if opts.ExpectContinueTimeout <= 0 {
		opts.ExpectContinueTimeout = DefaultExpectContinueTimeout
	}
	if opts.MaxHeaderBytes <= 0 {
		opts.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if opts.MaxReplayBody < 0 {
		opts.MaxReplayBody = 0
	} else if opts.MaxReplayBody == 0 {
		opts.MaxReplayBody = DefaultMaxReplayBody
	}
	t := &Transport{opts: opts}
	t.dialer = net.Dialer{Timeout: opts.DialTimeout, KeepAlive: opts.KeepAlive}
	t.scratch.New = func() any { return &scratch{w: make([]byte, 0, scratchSize)} }
	t.readers.New = func() any { return bufio.NewReaderSize(nil, readBufferSize) }
	return t
}

const (
	// scratchSize is the initial capacity of a request's write buffer;
	// streamed bodies are copied through its spare capacity.
	scratchSize = 16 << 10
	// maxPooledScratch is the largest write buffer kept for reuse.
	maxPooledScratch = 256 << 10
	// readBufferSize is the size of a connection's read buffer.
	readBufferSize = 8 << 10
	// max1xx bounds the informational answers before the final one.
	max1xx = 16
)

// scratch is the per-request memory, pooled: the request as written (its
// head, and its body when the body is held for a replay), the response
// head being read, and the state of the request and of the exchange.
type scratch struct {
	w  []byte
	h  []byte
	rw requestWriter
	x  exchange
}

// ErrUnsupported is returned by Do for requests that Supports does not
// accept.
var ErrUnsupported = errors.New("h1: request needs another transport")

// ErrMalformed is wrapped by the errors for answers that break RFC 9112.
var ErrMalformed = errors.New("h1: malformed response")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

// Supports reports whether Do carries r: a method other than CONNECT, no
// protocol upgrade, a Host without non-ASCII bytes or IPv6 zone, and a
// body it can frame (a known length, or chunked coding, which a body of
// unknown length gets unless its method usually has none and the request
// does not ask for chunked coding: net/http probes those with a timer).
func Supports(r *http.Request) bool {
	if r.Method == "CONNECT" || r.URL == nil {
		return false
	}
	if _, up := r.Header["Upgrade"]; up {
		return false
	}
	if !plainHost(r.Host) {
		return false
	}
	switch {
	case len(r.TransferEncoding) > 1:
		return false
	case len(r.TransferEncoding) == 1 && r.TransferEncoding[0] != "chunked":
		return false
	}
	return outgoingLength(r) >= 0 || len(r.TransferEncoding) == 1 || !methodUsuallyLacksBody(r.Method)
}

// plainHost reports whether host is ASCII without an IPv6 zone.
func plainHost(host string) bool {
	for i := 0; i < len(host); i++ {
		if host[i] >= 0x80 || host[i] == '%' {
			return false
		}
	}
	return true
}

// RoundTrip sends r to r.URL.Host, which must be an http URL; see Do.
func (t *Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL == nil || r.URL.Scheme != "http" || r.URL.Host == "" || !plainHost(r.URL.Host) {
		closeBody(r)
		return nil, errors.New("h1: want an http URL with an ASCII host")
	}
	return t.Do(r, r.URL.Host)
}

// Do sends r to the server at addr ("host:port"), which takes the place of
// r.URL.Host for connecting; the Host field is r.Host, or addr when
// r.Host is empty. A request that Supports does not accept gets
// ErrUnsupported, with its body left open for another transport.
//
// When a pooled connection turns out to be closed by the server (the
// request could not be written, or the connection ended before a byte of
// the answer), the request is sent again once on a new connection when its
// body can be sent again: no body, a body held in memory (a known length
// up to Options.MaxReplayBody, read before sending), or one that
// r.GetBody recreates. Errors before a connection exists are those of
// net.Dialer (a *net.OpError with Op "dial"), unless the context ended
// the dial; a canceled or expired context gives an error wrapping the
// context's error.
func (t *Transport) Do(r *http.Request, addr string) (*http.Response, error) {
	if !Supports(r) {
		return nil, ErrUnsupported
	}
	s := t.scratch.Get().(*scratch)
	defer t.putScratch(s)
	w, err := t.prepare(r, addr, s)
	if err != nil {
		closeBody(r)
		return nil, err
	}
	p := t.pool(addr)
	ctx := r.Context()
	for attempt := 0; ; attempt++ {
		now := time.Now()
		var c *conn
		if attempt == 0 {
			c = p.get(now)
		}
		if c == nil {
			if c, err = t.dial(ctx, p); err != nil {
				w.closeBody()
				if cerr := contextEnded(ctx, time.Now()); cerr != nil {
					// The context ended the dial: say so, as net/http does,
					// rather than blame the server.
					return nil, fmt.Errorf("h1: %w", cerr)
				}
				return nil, err
			}
		}
		res, err := t.exchange(ctx, c, w, s, now)
		if err == nil {
			return res, nil
		}
		var st *staleError
		if errors.As(err, &st) && attempt == 0 && ctx.Err() == nil && w.rewind() {
			continue
		}
		w.closeBody()
		if st != nil {
			err = st.err
		}
		return nil, err
	}
}

func (t *Transport) putScratch(s *scratch) {
	if cap(s.w) > maxPooledScratch || cap(s.h) > maxPooledScratch {
		return
	}
	s.w, s.h = s.w[:0], s.h[:0]
	s.rw, s.x = requestWriter{}, exchange{}
	t.scratch.Put(s)
}

// staleError marks a failure of a reused connection before any byte of
// the answer: the server had closed it.
type staleError struct{ err error }

func (e *staleError) Error() string { return e.err.Error() }
func (e *staleError) Unwrap() error { return e.err }

func (t *Transport) pool(addr string) *pool {
	if p, ok := t.pools.Load(addr); ok {
		return p.(*pool)
	}
	p, _ := t.pools.LoadOrStore(addr, &pool{t: t, addr: addr})
	return p.(*pool)
}

func (t *Transport) dial(ctx context.Context, p *pool) (*conn, error) {
	nc, err := t.dialer.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return nil, err
	}
	p.added()
	c := &conn{nc: nc, pool: p}
	c.probe.init(nc)
	return c, nil
}

// CloseIdleConnections closes the connections that are idle in the pools.
func (t *Transport) CloseIdleConnections() {
	t.pools.Range(func(_, v any) bool {
		v.(*pool).closeIdle()
		return true
	})
}

// exchange is one attempt at sending a request on a connection and
// reading the head of its answer.
type exchange struct {
	t   *Transport
	ctx context.Context
	c   *conn
	w   *requestWriter
	s   *scratch
	// got is how many bytes of the answer were read.
	got int
	// bodySent reports whether the request body went out in full.
	bodySent bool
}

// exchange sends the request on c and reads the head of the answer.
func (t *Transport) exchange(ctx context.Context, c *conn, w *requestWriter, s *scratch, now time.Time) (*http.Response, error) {
	br := t.readers.Get().(*bufio.Reader)
	br.Reset(c)
	c.br = br
	if w.wantClose {
		c.closeAfter = true
	}
	c.use(ctx, now)
	x := &s.x
	*x = exchange{t: t, ctx: ctx, c: c, w: w, s: s}
	res, err := x.run()
	if err != nil {
		x.abort()
		return nil, err
	}
	return res, nil
}

func (x *exchange) run() (*http.Response, error) {
	c, w := x.c, x.w
	if w.expect {
		if err := c.write(w.head()); err != nil {
			return nil, x.ioError(err)
		}
		if res, err := x.awaitContinue(); res != nil || err != nil {
			return res, err
		}
	} else {
		if err := c.write(w.buf()); err != nil {
			return x.writeFailed(err)
		}
		if w.streamed() {
			if err := w.writeBody(c, x.s); err != nil {
				return x.writeFailed(err)
			}
		}
	}
	x.bodySent = true
	return x.readAnswer()
}

// writeFailed handles a failure to write the request: a failure to read
// the client's body is returned as it is; otherwise the server may have
// answered before it stopped reading (the connection is not reused after).
func (x *exchange) writeFailed(err error) (*http.Response, error) {
	var be *bodyError
	if errors.As(err, &be) {
		return nil, be.err
	}
	x.c.closeAfter = true
	var ce *ctxError
	if errors.As(err, &ce) {
		return nil, err
	}
	res, rerr := x.readAnswer()
	switch {
	case rerr == nil:
		return res, nil
	case err == errAnsweredEarly:
		return nil, rerr // what the server sent is the failure
	}
	return nil, x.ioError(err)
}

// awaitContinue waits for the 100 of a request with "Expect:
// 100-continue", then sends the body. A final answer that comes instead
// of the 100 is returned: the body is then not sent and the connection not
// reused.
func (x *exchange) awaitContinue() (*http.Response, error) {
	c := x.c
	c.expectUntil = time.Now().Add(x.t.opts.ExpectContinueTimeout)
	c.watch(time.Now(), true)
	for {
		_, err := c.br.Peek(1)
		if err == errExpectTimeout {
			break // no 100 in time: send the body anyway (RFC 9110, 10.1.1)
		}
		if err != nil {
			c.expectUntil = time.Time{}
			return nil, x.ioError(err)
		}
		code, res, err := x.readHead()
		if err != nil || res != nil {
			c.expectUntil = time.Time{}
			if res != nil {
				// A final answer instead: the body stays unsent.
				x.w.closeBody()
			}
			return res, err
		}
		if code == http.StatusContinue {
			break
		}
	}
	c.expectUntil = time.Time{}
	c.watch(time.Now(), true)
	if err := x.w.writeBody(c, x.s); err != nil {
		_, err = x.writeFailed(err)
		if err == nil {
			err = errors.New("h1: server answered while the request body was being sent")
		}
		return nil, err
	}
	return nil, nil
}

// readAnswer reads answers until the final one.
func (x *exchange) readAnswer() (*http.Response, error) {
	for n1xx := 0; ; n1xx++ {
		if n1xx > max1xx {
			return nil, malformed("more than %d informational answers", max1xx)
		}
		_, res, err := x.readHead()
		if err != nil || res != nil {
			return res, err
		}
	}
}

// readHead reads one answer. It returns the final answer, or the status
// of an informational one after passing it to the request's
// httptrace.ClientTrace.
func (x *exchange) readHead() (int, *http.Response, error) {
	head, err := readHead(x.c.br, x.s.h[:0], x.t.opts.MaxHeaderBytes, &x.got, false)
	x.s.h = head[:0]
	if err != nil {
		return 0, nil, x.ioError(err)
	}
	res, err := parseResponse(head, x.w.method)
	if err != nil {
		return 0, nil, err
	}
	res.Request = x.w.req
	switch code := res.StatusCode; {
	case code == http.StatusSwitchingProtocols:
		return 0, nil, malformed("101 Switching Protocols to a request that asked for no upgrade")
	case code < 200:
		if trace := httptrace.ContextClientTrace(x.ctx); trace != nil && trace.Got1xxResponse != nil {
			if err := trace.Got1xxResponse(code, textproto.MIMEHeader(res.Header)); err != nil {
				return 0, nil, err
			}
		}
		return code, nil, nil
	}
	x.finish(res)
	return res.StatusCode, res, nil
}

// finish hands the connection to the body of the final answer, or back
// to the pool when the answer has no body.
func (x *exchange) finish(res *http.Response) {
	b := res.Body.(*body)
	b.t, b.c = x.t, x.c
	if res.Close || !x.bodySent {
		x.c.closeAfter = true
	}
	x.c = nil
	if b.mode == bodyNone {
		res.Body = http.NoBody
		b.end(nil)
	}
}

// ioError turns an I/O error of the exchange into the error to return:
// the context's error when the context ended it, a staleError when a
// reused connection failed before any byte of the answer.
func (x *exchange) ioError(err error) error {
	var ce *ctxError
	if errors.As(err, &ce) {
		return err
	}
	if err == io.EOF {
		err = fmt.Errorf("h1: server closed the connection before answering: %w", io.ErrUnexpectedEOF)
	}
	if x.c.reused && x.got == 0 && isConnClosed(err) {
		return &staleError{err: err}
	}
	return err
}

// abort closes the connection of a failed exchange.
func (x *exchange) abort() {
	if x.c != nil {
		x.c.close()
	}
}

// isConnClosed reports whether err says the peer closed or reset the
// connection.
func isConnClosed(err error) bool {
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNABORTED)
}

// contextEnded returns the context's error, or DeadlineExceeded when its
// deadline has passed but its timer has not fired yet (a dial bounded by
// that deadline can fail first).
func contextEnded(ctx context.Context, now time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok && !now.Before(dl) {
		return context.DeadlineExceeded
	}
	return nil
}

func isTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

func closeBody(r *http.Request) {
	if r.Body != nil {
		r.Body.Close()
	}
}

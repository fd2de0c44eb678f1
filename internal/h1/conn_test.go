package h1

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestConnectionReuse(t *testing.T) {
	cases := []struct {
		name      string
		answer    string
		requests  int
		wantConns int32
	}{
		{"answers that end where they say are followed on the same connection", okAnswer, 5, 1},
		{"bytes past an answer retire its connection", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA", 2, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			be := newRawBackend(t, always(tc.answer))
			tr := New(Options{})
			defer tr.CloseIdleConnections()
			for i := 0; i < tc.requests; i++ {
				if _, body, err := get(t, tr, "GET", be.addr); err != nil || body != "ok" {
					t.Fatalf("request %d: %q, %v", i, body, err)
				}
			}
			if n := be.accepted.Load(); n != tc.wantConns {
				t.Fatalf("%d connections for %d sequential requests, want %d", n, tc.requests, tc.wantConns)
			}
		})
	}
}

func TestConnectionsIdleAfterTheirDeadlineAreReused(t *testing.T) {
	be := newRawBackend(t, always(okAnswer))
	tr := New(Options{})
	defer tr.CloseIdleConnections()
	get(t, tr, "GET", be.addr)
	p := tr.pool(be.addr)
	p.mu.Lock()
	c := p.idle[0]
	c.idleSince = time.Now().Add(-time.Second) // long enough to be probed
	past := time.Now().Add(-time.Millisecond)  // and the last watch deadline passed
	c.nc.SetDeadline(past)
	c.deadline = past
	p.mu.Unlock()
	if _, body, err := get(t, tr, "GET", be.addr); err != nil || body != "ok" {
		t.Fatalf("answer = %q, %v", body, err)
	}
	if n := be.accepted.Load(); n != 1 {
		t.Fatalf("%d connections: an idle connection whose deadline passed was not reused", n)
	}
}

func TestIdleConnectionsExpire(t *testing.T) {
	be := newRawBackend(t, always(okAnswer))
	tr := New(Options{IdleTimeout: time.Hour})
	defer tr.CloseIdleConnections()
	get(t, tr, "GET", be.addr)
	p := tr.pool(be.addr)
	if c := p.get(time.Now().Add(time.Hour)); c != nil {
		t.Fatal("a connection idle for the whole IdleTimeout was handed out")
	}
	if n := p.idleCount(); n != 0 {
		t.Fatalf("%d expired connections kept", n)
	}
	// The sweep closes what expired and forgets a pool left empty.
	get(t, tr, "GET", be.addr)
	p.mu.Lock()
	p.idle[0].idleSince = time.Now().Add(-2 * time.Hour)
	p.mu.Unlock()
	p.sweep()
	if n := p.idleCount(); n != 0 {
		t.Fatalf("%d expired connections kept by the sweep", n)
	}
	if _, ok := tr.pools.Load(be.addr); ok {
		t.Fatal("the empty pool of an address is kept")
	}
}

// closingBackend answers the first request on each connection, then
// treats the next one on it as a server does that closes an idle
// connection just as the request arrives: it reads it and hangs up without
// a word. Requests on later connections are answered.
func closingBackend(t *testing.T) *rawBackend {
	var perConn [64]atomic.Int32
	return newRawBackend(t, func(n int, r *received) (string, bool) {
		if perConn[r.Conn%64].Add(1) == 2 {
			return "", true
		}
		return "HTTP/1.1 200 OK\r\nContent-Length: " + fmt.Sprint(len(r.Body)) + "\r\n\r\n" + r.Body, false
	})
}

func TestStaleConnectionsAreReplayed(t *testing.T) {
	cases := []struct {
		name       string
		opts       Options
		build      func(addr string) *http.Request
		wantReplay bool
	}{{
		name:       "GET",
		build:      func(addr string) *http.Request { r, _ := http.NewRequest("GET", "http://"+addr+"/", nil); return r },
		wantReplay: true,
	}, {
		name: "POST with a body held in memory",
		build: func(addr string) *http.Request {
			r, _ := http.NewRequest("POST", "http://"+addr+"/", onlyReader{strings.NewReader("payload")})
			r.ContentLength = 7
			return r
		},
		wantReplay: true,
	}, {
		name: "PUT with a streamed body that GetBody recreates",
		opts: Options{MaxReplayBody: -1},
		build: func(addr string) *http.Request {
			r, _ := http.NewRequest("PUT", "http://"+addr+"/", onlyReader{strings.NewReader("payload")})
			r.ContentLength = 7
			r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("payload")), nil }
			return r
		},
		wantReplay: true,
	}, {
		name: "POST with a streamed body that cannot be recreated",
		opts: Options{MaxReplayBody: -1},
		build: func(addr string) *http.Request {
			r, _ := http.NewRequest("POST", "http://"+addr+"/", onlyReader{strings.NewReader("payload")})
			r.ContentLength = 7
			return r
		},
		wantReplay: false,
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			be := closingBackend(t)
			tr := New(tc.opts)
			defer tr.CloseIdleConnections()
			send := func() (string, error) {
				res, err := tr.RoundTrip(tc.build(be.addr))
				if err != nil {
					return "", err
				}
				defer res.Body.Close()
				b, err := io.ReadAll(res.Body)
				return string(b), err
			}
			if _, err := send(); err != nil {
				t.Fatal(err)
			}
			body, err := send() // meets the connection the backend closes
			if !tc.wantReplay {
				if err == nil {
					t.Fatalf("answered %q: a body that cannot be sent again was replayed", body)
				}
				if !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
					t.Fatalf("err = %v, want a connection closed before the answer", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("stale connection not replayed: %v", err)
			}
			got := be.requests()
			if len(got) != 3 || got[2].Conn != 2 || got[2].Body != got[0].Body {
				t.Fatalf("backend saw %+v, want the request again on a second connection", got)
			}
		})
	}
}

func TestFreshConnectionClosedBeforeAnswerIsNotReplayed(t *testing.T) {
	be := newRawBackend(t, func(int, *received) (string, bool) { return "", true })
	tr := New(Options{})
	_, _, err := get(t, tr, "GET", be.addr)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v, want unexpected EOF", err)
	}
	if n := len(be.requests()); n != 1 {
		t.Fatalf("backend saw %d requests, want 1: only a reused connection may be stale", n)
	}
}

func TestIdleConnectionClosedByTheServerIsNotUsed(t *testing.T) {
	be := newRawBackend(t, func(n int, r *received) (string, bool) { return okAnswer, n == 0 })
	tr := New(Options{})
	defer tr.CloseIdleConnections()
	if _, _, err := get(t, tr, "GET", be.addr); err != nil {
		t.Fatal(err)
	}
	p := tr.pool(be.addr)
	p.mu.Lock()
	c := p.idle[0]
	p.mu.Unlock()
	for c.probe.quiet() {
		time.Sleep(time.Millisecond) // until the server's close arrives
	}
	// A POST whose body cannot be sent again must not meet the closed
	// connection.
	req, _ := http.NewRequest("POST", "http://"+be.addr+"/", onlyReader{strings.NewReader(strings.Repeat("x", 100))})
	req.ContentLength = 100
	tr.opts.MaxReplayBody = 0
	res, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("the closed idle connection was used: %v", err)
	}
	res.Body.Close()
	if got := be.requests(); len(got) != 2 || got[1].Conn != 2 {
		t.Fatalf("backend saw %+v, want the POST once, on a second connection", got)
	}
}

// expectBackend serves one request with "Expect: 100-continue": it
// decides what to do after reading the head and before the body.
func expectBackend(t *testing.T, act func(c net.Conn, br *bufio.Reader, r *http.Request)) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		r, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		act(c, br, r)
	}()
	return ln.Addr().String()
}

// countingReader records whether it was read.
type countingReader struct {
	r     io.Reader
	reads atomic.Int32
}

func (c *countingReader) Read(p []byte) (int, error) {
	c.reads.Add(1)
	return c.r.Read(p)
}

func TestExpectContinue(t *testing.T) {
	echo := func(c net.Conn, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(b), b)
	}
	cases := []struct {
		name      string
		act       func(c net.Conn, br *bufio.Reader, r *http.Request)
		wantCode  int
		wantBody  string
		wantReads bool
	}{{
		name: "100 Continue, then the body",
		act: func(c net.Conn, br *bufio.Reader, r *http.Request) {
			io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\n")
			echo(c, r)
		},
		wantCode: 200, wantBody: "payload", wantReads: true,
	}, {
		name: "a final answer instead: the body is not sent",
		act: func(c net.Conn, br *bufio.Reader, r *http.Request) {
			io.WriteString(c, "HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\n\r\n")
		},
		wantCode: 417,
	}, {
		name:     "no 100 in time: the body is sent anyway",
		act:      func(c net.Conn, br *bufio.Reader, r *http.Request) { echo(c, r) },
		wantCode: 200, wantBody: "payload", wantReads: true,
	}, {
		name: "another 1xx first",
		act: func(c net.Conn, br *bufio.Reader, r *http.Request) {
			io.WriteString(c, "HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n")
			echo(c, r)
		},
		wantCode: 200, wantBody: "payload", wantReads: true,
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr := expectBackend(t, tc.act)
			tr := New(Options{ExpectContinueTimeout: 50 * time.Millisecond})
			defer tr.CloseIdleConnections()
			body := &countingReader{r: strings.NewReader("payload")}
			req, _ := http.NewRequest("PUT", "http://"+addr+"/", body)
			req.ContentLength = 7
			req.Header.Set("Expect", "100-continue")
			res, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tc.wantCode || string(b) != tc.wantBody {
				t.Fatalf("answer = %d %q, want %d %q", res.StatusCode, b, tc.wantCode, tc.wantBody)
			}
			if read := body.reads.Load() > 0; read != tc.wantReads {
				t.Fatalf("body read: %v, want %v", read, tc.wantReads)
			}
			if !tc.wantReads && tr.pool(addr).idleCount() != 0 {
				t.Fatal("the connection whose body was not sent went back to the pool")
			}
		})
	}
}

func TestContextEndsTheExchange(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	be := newRawBackend(t, func(n int, r *received) (string, bool) {
		if r.URI == "/stream" {
			return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n", false
		}
		<-release
		return okAnswer, false
	})
	tr := New(Options{})
	defer tr.CloseIdleConnections()

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+be.addr+"/hang", nil)
	if _, err := tr.RoundTrip(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the deadline", err)
	}

	ctx, cancel = context.WithCancel(context.Background())
	req, _ = http.NewRequestWithContext(ctx, "GET", "http://"+be.addr+"/stream", nil)
	res, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	if n, err := res.Body.Read(buf); err != nil || string(buf[:n]) != "first" {
		t.Fatalf("first read = %q, %v", buf[:n], err)
	}
	cancel()
	if _, err := res.Body.Read(buf); !errors.Is(err, context.Canceled) {
		t.Fatalf("read after cancel: %v, want context.Canceled", err)
	}
	res.Body.Close()
	if n := tr.pool(be.addr).idleCount(); n != 0 {
		t.Fatalf("%d interrupted connections went back to the pool", n)
	}
}

func TestDialErrorsAreDialErrors(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	_, _, err := get(t, New(Options{}), "GET", addr)
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" {
		t.Fatalf("err = %#v, want a dial *net.OpError", err)
	}
}

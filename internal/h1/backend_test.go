package h1

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
)

// rawBackend is a loopback server that reads requests with net/http's
// parser and answers each with the bytes a test scripts.
type rawBackend struct {
	addr     string
	accepted atomic.Int32
	mu       sync.Mutex
	got      []received
	// answer returns the raw answer to the n-th request (from 0) and
	// whether to close the connection after it.
	answer func(n int, r *received) (raw string, close bool)
	// sendContinue makes it send "100 Continue" before reading the body
	// of a request that expects it.
	sendContinue bool
}

// received is a request as the backend saw it.
type received struct {
	Method  string
	URI     string
	Proto   string
	Header  http.Header
	Host    string
	Body    string
	Trailer http.Header
	TE      []string
	Length  int64
	Conn    int32 // which connection, from 1
}

func newRawBackend(t testing.TB, answer func(n int, r *received) (string, bool)) *rawBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &rawBackend{addr: ln.Addr().String(), answer: answer}
	var wg sync.WaitGroup
	var conns sync.Map
	t.Cleanup(func() {
		ln.Close()
		conns.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Store(c, true)
			id := b.accepted.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				b.serve(c, id)
			}()
		}
	}()
	return b
}

func (b *rawBackend) serve(c net.Conn, id int32) {
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		if b.sendContinue && req.Header.Get("Expect") == "100-continue" {
			io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\n")
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return
		}
		r := &received{Method: req.Method, URI: req.RequestURI, Proto: req.Proto, Header: req.Header, Host: req.Host,
			Body: string(body), Trailer: req.Trailer, TE: req.TransferEncoding, Length: req.ContentLength, Conn: id}
		b.mu.Lock()
		n := len(b.got)
		b.got = append(b.got, *r)
		b.mu.Unlock()
		raw, closing := b.answer(n, r)
		if _, err := io.WriteString(c, raw); err != nil || closing {
			return
		}
	}
}

func (b *rawBackend) requests() []received {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]received(nil), b.got...)
}

// always answers every request with the same bytes.
func always(raw string) func(int, *received) (string, bool) {
	return func(int, *received) (string, bool) { return raw, false }
}

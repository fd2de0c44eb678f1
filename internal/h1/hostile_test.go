package h1

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// hostileServer serves each connection to a loopback listener with
// serve, and returns its address.
func hostileServer(t *testing.T, serve func(c net.Conn, br *bufio.Reader)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				go func() { <-done; c.Close() }()
				serve(c, bufio.NewReader(c))
			}()
		}
	}()
	return ln.Addr().String()
}

// TestBytesAfterAnAnswerDoNotAnswerTheNextRequest has a server send
// bytes after a complete answer, once the client has read it: a body a
// 204 or a HEAD answer must not have, or a whole second answer. They
// must not be read as the answer to the next request on the connection,
// however soon it comes. Before every reuse was preceded by a look at the
// socket, a connection idle for less than 50ms was handed out unlooked
// at, and the next request got "SMUGGLED".
func TestBytesAfterAnAnswerDoNotAnswerTheNextRequest(t *testing.T) {
	const smuggled = "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nSMUGGLED"
	cases := []struct {
		name, method, answer, late string
	}{
		{"Content-Length", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", smuggled},
		{"chunked", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", smuggled},
		{"HTTP/1.0 keep-alive", "GET", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", smuggled},
		{"204 with a body", "GET", "HTTP/1.1 204 No Content\r\n\r\n", smuggled},
		{"304 with a body", "GET", "HTTP/1.1 304 Not Modified\r\nContent-Length: 8\r\n\r\n", "SMUGGLED" + smuggled},
		{"HEAD answer with a body", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n", "SMUGGLED" + smuggled},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sent := make(chan struct{})
			addr := hostileServer(t, func(c net.Conn, br *bufio.Reader) {
				for n := 0; ; n++ {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					if n > 0 || req.URL.Path == "/next" {
						io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext")
						continue
					}
					io.WriteString(c, tc.answer)
					time.Sleep(20 * time.Millisecond) // the client has read the answer
					io.WriteString(c, tc.late)
					close(sent)
				}
			})
			tr := New(Options{})
			defer tr.CloseIdleConnections()
			if _, _, err := get(t, tr, tc.method, addr); err != nil {
				t.Fatal(err)
			}
			<-sent
			req, _ := http.NewRequest("GET", "http://"+addr+"/next", nil)
			res, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(res.Body)
			res.Body.Close()
			if err != nil || res.StatusCode != 200 || string(body) != "next" {
				t.Fatalf("next request got %d %q, %v; want its own answer, 200 \"next\"", res.StatusCode, body, err)
			}
		})
	}
}

// TestAnswerBeforeTheRequestIsWritten has a server answer after the head
// of a request with a large body, and keep the connection open without
// reading the body: the answer must be returned, and the connection not
// reused. Before writes blocked on such a server looked for its answer,
// the request hung until its context ended.
func TestAnswerBeforeTheRequestIsWritten(t *testing.T) {
	addr := hostileServer(t, func(c net.Conn, br *bufio.Reader) {
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 413 Content Too Large\r\nContent-Length: 3\r\n\r\nbig")
		select {} // never reads again; the cleanup closes c
	})
	tr := New(Options{MaxReplayBody: -1})
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+addr+"/", onlyReader{strings.NewReader(strings.Repeat("b", 64<<20))})
	req.ContentLength = 64 << 20
	res, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("RoundTrip: %v; want the server's early 413", err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || res.StatusCode != 413 || string(body) != "big" {
		t.Fatalf("got %d %q, %v; want 413 \"big\"", res.StatusCode, body, err)
	}
	if n := tr.pool(addr).idleCount(); n != 0 {
		t.Errorf("%d connections kept after an answer to a request not wholly written", n)
	}
}

package httproute

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The differential test of the proxy: every request is sent, as raw
// bytes over a loopback connection, through the proxy and through an
// httputil.ReverseProxy configured as the Router configured its proxies
// before (same Upstream, Rewrite, buffers and error handling), both in
// front of the same scripted loopback backend; what the backend receives
// and what the client gets must be the same.

// seen is what one side of an exchange received, parsed.
type seen struct {
	Head     string // request line or the status line
	Header   http.Header
	Length   int64
	Chunked  bool
	Body     string
	Trailer  http.Header
	Informal []string // 1xx answers before the final one, with their fields
	Err      string   // how reading the body ended, when not cleanly
}

// diffBackend is a loopback server that records each request it reads and
// answers it with the raw bytes of answer.
type diffBackend struct {
	ln     net.Listener
	answer string
	mu     sync.Mutex
	got    []seen
	// stalled counts the stalled answers whose connection the proxy
	// closed.
	stalled atomic.Int32
}

func newDiffBackend(t testing.TB, answer string) *diffBackend {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &diffBackend{ln: ln, answer: answer}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go b.serve(c)
		}
	}()
	return b
}

func (b *diffBackend) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		if strings.EqualFold(req.Header.Get("Expect"), "100-continue") {
			io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\n")
		}
		s := seen{Head: req.Method + " " + req.RequestURI + " " + req.Proto + " host=" + req.Host,
			Header: req.Header, Length: req.ContentLength, Chunked: slices.Contains(req.TransferEncoding, "chunked")}
		body, err := io.ReadAll(req.Body)
		s.Body = string(body)
		if err != nil {
			s.Err = err.Error()
		}
		s.Trailer = req.Trailer
		b.mu.Lock()
		b.got = append(b.got, s)
		b.mu.Unlock()
		if strings.Contains(b.answer, "{stall}") {
			head, _, _ := strings.Cut(b.answer, "{stall}")
			io.WriteString(c, head)
			io.Copy(io.Discard, c) // until the proxy hangs up
			b.stalled.Add(1)
			return
		}
		answer := b.answer
		if req.Method == "HEAD" {
			// The head of the final answer only: a body would be taken for
			// the next answer.
			final := strings.LastIndex(answer, "HTTP/1.1 ")
			if end := strings.Index(answer[final:], "\r\n\r\n"); end >= 0 {
				answer = answer[:final+end+4]
			}
		}
		if _, err := io.WriteString(c, answer); err != nil {
			return
		}
		if strings.Contains(b.answer, "Connection: close") || !strings.Contains(b.answer, "Content-Length") && !strings.Contains(b.answer, "chunked") {
			return // close-delimited
		}
	}
}

func (b *diffBackend) requests() []seen {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.got)
}

// exchangeRaw sends raw to the server at addr and parses the answers, for
// a request of method.
func exchangeRaw(t testing.TB, addr, method, raw string, hangUp bool) seen {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var s seen
	for {
		res, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			s.Err = "head: " + err.Error()
			return s
		}
		if res.StatusCode < 200 {
			// To "Expect: 100-continue", the server sends a 100 of its
			// own when the handler reads the body, and the proxy passes
			// the backend's on: whether both reach the client depends on
			// timing (behind ReverseProxy too), so a repeat is not kept.
			info := fmt.Sprint(res.StatusCode, " ", normalHeader(res.Header))
			if n := len(s.Informal); n == 0 || s.Informal[n-1] != info {
				s.Informal = append(s.Informal, info)
			}
			continue
		}
		s.Head = res.Proto + " " + res.Status
		s.Header, s.Length = normalHeader(res.Header), res.ContentLength
		s.Chunked = slices.Contains(res.TransferEncoding, "chunked")
		if hangUp {
			return s // the client goes away mid-body
		}
		body, err := io.ReadAll(res.Body)
		s.Body = string(body)
		if err != nil {
			s.Err = "body: " + err.Error()
		}
		s.Trailer = res.Trailer
		return s
	}
}

// normalHeader drops the Date field and sorts the names a Trailer field
// lists (taken from a map, in no order).
func normalHeader(h http.Header) http.Header {
	h = h.Clone()
	delete(h, "Date")
	if tr, ok := h["Trailer"]; ok {
		var names []string
		for _, v := range tr {
			for n := range strings.SplitSeq(v, ",") {
				names = append(names, strings.TrimSpace(n))
			}
		}
		slices.Sort(names)
		h["Trailer"] = []string{strings.Join(names, ", ")}
	}
	return h
}

// diffCase is one request and one backend answer.
type diffCase struct {
	name    string
	method  string
	request string // raw, with {host} for the front's address
	answer  string // raw; "{stall}" ends what the backend sends before waiting
	hangUp  bool
}

// runDiff sends c through both proxies and returns what the backend and
// the client saw through each (ReverseProxy first).
func runDiff(t testing.TB, c diffCase, transport string) (backend, client [2]seen) {
	t.Helper()
	be := newDiffBackend(t, c.answer)
	addr := be.ln.Addr().String()
	if c.answer == "" {
		// Nothing listens on port 1 (below the ephemeral range, so no
		// listener of this test can be handed it, as a port just closed
		// can be): connection refused.
		be.ln.Close()
		addr = "127.0.0.1:1"
	}
	logger := slog.New(slog.DiscardHandler)
	ref := BackendRef{Namespace: "default", Name: "backend", Port: 80}
	for i := range 2 {
		cfg := UpstreamConfig{Endpoints: []string{addr}}
		if transport == "nethttp" {
			cfg.Transport = NewTransport(false)
		}
		up, err := NewUpstream(cfg)
		if err != nil {
			t.Fatal(err)
		}
		p := newProxy(up, ref, newBufferPool(), logger, proxyError(ref, logger))
		var h http.Handler = p
		if i == 0 {
			h = p.upgrade // the ReverseProxy the Router used for every request
		}
		front := httptest.NewUnstartedServer(h)
		front.Config.ErrorLog = nil
		front.Start()
		before := len(be.requests())
		raw := strings.ReplaceAll(c.request, "{host}", front.Listener.Addr().String())
		client[i] = exchangeRaw(t, front.Listener.Addr().String(), c.method, raw, c.hangUp)
		front.Close() // waits for the handler to return
		up.CloseIdleConnections()
		if got := be.requests(); len(got) > before {
			backend[i] = got[before]
		}
		if c.hangUp {
			// The proxy must close its backend connection too.
			deadline := time.Now().Add(5 * time.Second)
			for be.stalled.Load() != int32(i+1) && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			if be.stalled.Load() != int32(i+1) {
				backend[i].Err = "the backend connection stayed open"
			}
		}
	}
	return backend, client
}

// hopRequest carries every hop-by-hop field, fields named by Connection,
// client forwarding fields and no User-Agent.
const hopRequest = "GET /a/b?x=1&y=%zz;z HTTP/1.1\r\nHost: app.example.com\r\n" +
	"Connection: X-Hop, keep-alive, X-Forwarded-Host, Te\r\nX-Hop: secret\r\nKeep-Alive: timeout=5\r\n" +
	"Proxy-Connection: keep-alive\r\nTE: trailers, deflate\r\nUpgrade: h2c\r\nProxy-Authorization: Basic eDp5\r\n" +
	"Trailer: X-Req\r\nX-Forwarded-For: 203.0.113.7\r\nX-Forwarded-For: 198.51.100.2\r\nForwarded: for=203.0.113.7\r\n" +
	"X-Forwarded-Host: evil.example\r\nX-Forwarded-Proto: https\r\nX-Keep: 1\r\nX-Keep: 2\r\n\r\n"

func diffCases() []diffCase {
	get := "GET /p HTTP/1.1\r\nHost: app.example.com\r\nUser-Agent: test/1\r\n\r\n"
	requests := []struct{ name, method, raw string }{
		{"hop", "GET", hopRequest},
		{"get", "GET", get},
		{"head", "HEAD", "HEAD /p HTTP/1.1\r\nHost: app.example.com\r\n\r\n"},
		{"post", "POST", "POST /p HTTP/1.1\r\nHost: app.example.com\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello"},
		{"chunked", "POST", "POST /p HTTP/1.1\r\nHost: app.example.com\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n" +
			"5\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 42\r\n\r\n"},
		{"expect", "POST", "POST /p HTTP/1.1\r\nHost: app.example.com\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\nbody"},
		{"large", "PUT", "PUT /p HTTP/1.1\r\nHost: app.example.com\r\nContent-Length: 300000\r\n\r\n" + strings.Repeat("r", 300000)},
	}
	large := strings.Repeat("0123456789abcdef", 1<<16)
	answers := []struct{ name, raw string }{
		{"hop", "HTTP/1.1 200 OK\r\nConnection: X-A, keep-alive\r\nX-A: 1\r\nKeep-Alive: timeout=4\r\n" +
			"Proxy-Authenticate: Basic\r\nProxy-Connection: x\r\nUpgrade: h2c\r\nTe: x\r\nX-B: 2\r\nX-B: 3\r\nContent-Length: 2\r\n\r\nok"},
		{"length", "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}"},
		{"trailers", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTrailer: X-T, X-U\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"3\r\nabc\r\n0\r\nX-T: 1\r\nX-U: 2\r\n\r\n"},
		{"unannounced-trailer", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Late: 1\r\n\r\n"},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n4\r\nabcd\r\n2\r\nef\r\n0\r\n\r\n"},
		{"sse", "HTTP/1.1 200 OK\r\nContent-Type: Text/Event-Stream; charset=utf-8\r\nContent-Length: 12\r\n\r\ndata: one\n\n\n"},
		{"close-delimited", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end"},
		{"204", "HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n"},
		{"304", "HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nContent-Length: 10\r\n\r\n"},
		{"103", "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"},
		{"500", "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\nboom"},
		{"large", "HTTP/1.1 200 OK\r\nContent-Length: " + fmt.Sprint(len(large)) + "\r\n\r\n" + large},
		{"truncated", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 100\r\n\r\nonly this"},
		{"malformed", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nok"},
		{"101", "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: other\r\n\r\n"},
		{"refused", ""},
	}
	var cases []diffCase
	for _, rq := range requests {
		for _, a := range answers {
			cases = append(cases, diffCase{name: rq.name + "/" + a.name, method: rq.method, request: rq.raw, answer: a.raw})
		}
	}
	// The backend sends a head and holds the body back: the head must
	// reach the client all the same (flushed at once), and when the
	// client hangs up, the backend's connection must close. Answers of
	// unknown length here carry a Content-Type: the server sniffs a
	// missing one from the first write, which races with the flush of the
	// head in ReverseProxy as in the proxy.
	cases = append(cases, diffCase{name: "get/client-cancel", method: "GET", request: get, hangUp: true,
		answer: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n{stall}"},
		diffCase{name: "get/sse-client-cancel", method: "GET", request: get, hangUp: true,
			answer: "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: 100\r\n\r\ndata: 1\n\n{stall}"})
	return cases
}

func TestProxyDifferential(t *testing.T) {
	for _, transport := range []string{"lean", "nethttp"} {
		for _, c := range diffCases() {
			t.Run(transport+"/"+c.name, func(t *testing.T) {
				backend, client := runDiff(t, c, transport)
				if diff := cmp.Diff(backend[0], backend[1]); diff != "" {
					t.Errorf("backend received (-ReverseProxy +proxy):\n%s", diff)
				}
				if diff := cmp.Diff(client[0], client[1]); diff != "" {
					t.Errorf("client got (-ReverseProxy +proxy):\n%s", diff)
				}
				if client[1].Head == "" && client[1].Err == "" {
					t.Errorf("client got nothing")
				}
			})
		}
	}
}

// FuzzProxyDifferential sends generated fields both ways through both
// proxies: a request carrying fields (some named by its Connection field)
// and an answer carrying fields, and compares as TestProxyDifferential
// does.
func FuzzProxyDifferential(f *testing.F) {
	f.Add("X-A", "v", "x-a, close", "Te", "trailers", "text/event-stream", uint8(0))
	f.Add("Keep-Alive", "1", "keep-alive", "X-B", "y", "text/plain", uint8(1))
	f.Add("Trailer", "X-T", "X-T", "Connection", "x-b", "", uint8(2))
	f.Add("Proxy-Connection", "q", "upgrade", "Upgrade", "h2c", "TEXT/EVENT-STREAM ;x=1", uint8(3))
	f.Fuzz(func(t *testing.T, reqName, reqValue, conn, ansName, ansValue, contentType string, shape uint8) {
		for _, s := range []string{reqName, reqValue, conn, ansName, ansValue, contentType} {
			if !fieldSafe(s) {
				return
			}
		}
		if !validFieldName(reqName) || !validFieldName(ansName) {
			return
		}
		req := "GET /f?q=1 HTTP/1.1\r\nHost: app.example.com\r\n" + reqName + ": " + reqValue + "\r\n"
		if conn != "" {
			req += "Connection: " + conn + "\r\n"
		}
		req += "\r\n"
		ans := "HTTP/1.1 200 OK\r\n" + ansName + ": " + ansValue + "\r\n"
		if contentType != "" {
			ans += "Content-Type: " + contentType + "\r\n"
		}
		switch shape % 3 {
		case 0:
			ans += "Content-Length: 2\r\n\r\nok"
		case 1:
			ans += "Transfer-Encoding: chunked\r\nTrailer: " + ansName + "\r\n\r\n2\r\nok\r\n0\r\n" + ansName + ": t\r\n\r\n"
		default:
			ans += "Connection: close\r\n\r\nok"
		}
		c := diffCase{method: "GET", request: req, answer: ans}
		backend, client := runDiff(t, c, "lean")
		for i := range client {
			// An answer of unknown length without Content-Type gets one
			// sniffed from the first write, or none when the header
			// flush came first: a race of ReverseProxy's too.
			if ct := client[i].Header["Content-Type"]; len(ct) == 1 && ct[0] == "text/plain; charset=utf-8" && !strings.Contains(ans, ct[0]) {
				delete(client[i].Header, "Content-Type")
			}
		}
		if diff := cmp.Diff(backend[0], backend[1]); diff != "" {
			t.Errorf("request %q answer %q: backend received (-ReverseProxy +proxy):\n%s", req, ans, diff)
		}
		if diff := cmp.Diff(client[0], client[1]); diff != "" {
			t.Errorf("request %q answer %q: client got (-ReverseProxy +proxy):\n%s", req, ans, diff)
		}
	})
}

// fieldSafe keeps generated text within one field line.
func fieldSafe(s string) bool {
	return !strings.ContainsAny(s, "\r\n\x00") && len(s) < 200
}

func validFieldName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return true
}

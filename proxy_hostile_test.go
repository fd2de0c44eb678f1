package httproute_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/httproute/httproute"
)

// The hostile-upstream tests: a raw loopback server answers one request
// (the attack) with exact bytes, then every request for /next with its own
// answer. Through a Router, the attack must give the client a 502, a
// broken answer or an answer of its own; the request for /next that
// follows on the same Router must get its own answer, never bytes left
// over from the attack (a desynchronized pooled connection). Every case is
// also sent through net/http's Transport behind httputil.ReverseProxy, the
// reference: where the two differ, the case says why that is safe.

// nextAnswer is the upstream's answer to /next.
const nextAnswer = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext"

// smuggled is a whole answer hidden in or after an attack.
const smuggled = "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nSMUGGLED"

// hostileCase is one attack.
type hostileCase struct {
	name   string
	method string // of the attack request, GET when empty
	// body of the attack request, of this many bytes.
	body int
	// answer is written after the attack request's head (and its body,
	// unless unread is set); late is written after a pause; the
	// connection closes after them when closes is set.
	answer string
	late   string
	unread bool
	closes bool
	// want is what the client gets through the Router.
	want hostileOutcome
	// differs says why the reference's different outcome is safe; empty
	// when both must agree.
	differs string
	// mayFail, when set, says why a broken answer or a 502 is as good as
	// want, through the Router and the reference alike.
	mayFail string
}

// hostileOutcome is what a client got for the attack.
type hostileOutcome struct {
	Code   int
	Body   string
	Broken bool // the answer was cut short, or no answer came
}

func ok200(body string) hostileOutcome { return hostileOutcome{Code: 200, Body: body} }

var badGateway = hostileOutcome{Code: http.StatusBadGateway, Body: "Bad Gateway\n"}

// broken is an answer cut short: its head may have reached the client
// (flushed from a timer for an answer of unknown length) or not.
var broken = hostileOutcome{Broken: true}

// hostileUpstream serves the attack and /next on loopback; sent is
// closed once the attack's late bytes are written.
type hostileUpstream struct {
	addr string
	sent chan struct{}
}

func newHostileUpstream(t *testing.T, tc hostileCase) *hostileUpstream {
	t.Helper()
	u := &hostileUpstream{sent: make(chan struct{})}
	attacked := make(chan struct{}, 1)
	attacked <- struct{}{}
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	u.addr = loopbackServer(t, func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			if req.URL.Path == "/next" {
				io.Copy(io.Discard, req.Body)
				if _, err := io.WriteString(c, nextAnswer); err != nil {
					return
				}
				continue
			}
			select {
			case <-attacked:
			default:
				return // the attack is answered once; a second try gets nothing
			}
			if !tc.unread {
				io.Copy(io.Discard, req.Body)
			}
			io.WriteString(c, tc.answer)
			if tc.late != "" {
				time.Sleep(20 * time.Millisecond)
				io.WriteString(c, tc.late)
			}
			close(u.sent)
			if tc.closes {
				return
			}
			if tc.unread {
				// Keep the connection open without reading, as a server that
				// answered early and waits for the client to give up.
				<-done
				return
			}
		}
	})
	return u
}

// hostileFront is a Router, or the reference ReverseProxy, in front of
// the upstream at addr.
func hostileFront(t *testing.T, addr string, reference bool) *httptest.Server {
	if !reference {
		return proxyRouter(t, "", addr)
	}
	tr := httproute.NewTransport(false)
	t.Cleanup(tr.CloseIdleConnections)
	target := &url.URL{Scheme: "http", Host: addr}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
		},
		Transport: tr,
		ErrorLog:  discardLog(),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			http.Error(w, "Bad Gateway", http.StatusBadGateway)
		},
	}
	srv := httptest.NewUnstartedServer(rp)
	srv.Config.ErrorLog = discardLog()
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// hostileSend sends one request to the front and reads its answer.
func hostileSend(t *testing.T, client *http.Client, method, target string, body int) hostileOutcome {
	t.Helper()
	var rd io.Reader
	if body > 0 {
		rd = strings.NewReader(strings.Repeat("b", body))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		t.Fatal(err)
	}
	res, err := client.Do(req)
	if err != nil {
		return hostileOutcome{Broken: true}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return broken
	}
	return hostileOutcome{Code: res.StatusCode, Body: string(b)}
}

// runHostile sends the attack and then /next through a front to a fresh
// hostile upstream.
func runHostile(t *testing.T, tc hostileCase, reference bool) (attack, next hostileOutcome) {
	up := newHostileUpstream(t, tc)
	front := hostileFront(t, up.addr, reference)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	method := tc.method
	if method == "" {
		method = "GET"
	}
	attack = hostileSend(t, client, method, front.URL+"/attack", tc.body)
	select {
	case <-up.sent:
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream never finished the attack")
	}
	next = hostileSend(t, client, "GET", front.URL+"/next", 0)
	return attack, next
}

func TestProxyHostileUpstream(t *testing.T) {
	for _, tc := range hostileCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, next := runHostile(t, tc, false)
			if tc.mayFail != "" && (got == broken || got == badGateway) {
				got = tc.want
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("attack answer through the Router (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(ok200("next"), next); diff != "" {
				t.Errorf("the next request got another answer than its own (-want +got):\n%s", diff)
			}
			ref, _ := runHostile(t, tc, true)
			if tc.mayFail != "" && (ref == broken || ref == badGateway) {
				ref = tc.want
			}
			switch same := cmp.Equal(ref, got); {
			case !same && tc.differs == "":
				t.Errorf("net/http's Transport and ReverseProxy give %+v, the Router %+v: say why the difference is safe", ref, got)
			case same && tc.differs != "":
				t.Errorf("net/http's Transport and ReverseProxy now give the same %+v: drop the reason %q", ref, tc.differs)
			}
		})
	}
}

func hostileCases() []hostileCase {
	const okHead = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	const strict = "stricter: an answer net/http accepts is refused (RFC 9112 allows either)"
	return []hostileCase{
		// Response framing.
		{name: "Content-Length and Transfer-Encoding", answer: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled,
			want: badGateway, differs: strict + "; net/http lets chunked win and drops the connection for the bytes after it (RFC 9112 6.3 allows both)"},
		{name: "two different Content-Lengths", answer: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 10\r\n\r\nok" + smuggled,
			want: badGateway},
		{name: "two equal Content-Lengths", answer: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
			want: badGateway, differs: strict + ": net/http folds equal values"},
		{name: "Content-Length list", answer: "HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok", want: badGateway},
		{name: "Content-Length with a plus", answer: "HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok", want: badGateway},
		{name: "Content-Length with a minus", answer: "HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\nok", want: badGateway},
		{name: "Content-Length with spaces around", answer: "HTTP/1.1 200 OK\r\nContent-Length:   2 \t\r\n\r\nok", want: ok200("ok")},
		{name: "Content-Length with a space inside", answer: "HTTP/1.1 200 OK\r\nContent-Length: 1 0\r\n\r\nok", want: badGateway},
		{name: "Content-Length with leading zeros", answer: "HTTP/1.1 200 OK\r\nContent-Length: 0002\r\n\r\nok", want: ok200("ok")},
		{name: "Content-Length in hexadecimal", answer: "HTTP/1.1 200 OK\r\nContent-Length: 0x2\r\n\r\nok", want: badGateway},
		{name: "Content-Length beyond int64", answer: "HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551618\r\n\r\nok", want: badGateway},
		{name: "Transfer-Encoding gzip", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nok", want: badGateway},
		{name: "Transfer-Encoding identity", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\nContent-Length: 2\r\n\r\nok", want: badGateway},
		{name: "chunked not last", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", want: badGateway},
		{name: "chunked after another coding", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: x, chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", want: badGateway},
		{name: "chunked twice", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", want: badGateway},
		{name: "chunked in capitals", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", want: ok200("ok")},
		{name: "chunked with trailing whitespace", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked \t\r\n\r\n2\r\nok\r\n0\r\n\r\n", want: ok200("ok")},
		{name: "chunked with a vertical tab", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: \x0bchunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", want: badGateway},
		{name: "HTTP/1.0 with chunked", answer: "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", closes: true,
			want: badGateway, differs: strict + ": net/http ignores Transfer-Encoding in HTTP/1.0 and reads to the close"},
		{name: "HTTP/1.0 without keep-alive, smuggle behind", answer: "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", late: smuggled, want: ok200("ok")},
		{name: "HTTP/1.0 keep-alive, smuggle behind", answer: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", late: smuggled, want: ok200("ok")},
		{name: "no framing: read to the close", answer: "HTTP/1.1 200 OK\r\n\r\nok" + smuggled, closes: true, want: ok200("ok" + smuggled)},
		{name: "chunk size beyond int64", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000002\r\nok\r\n0\r\n\r\n", want: broken},
		{name: "chunk size with a sign", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-2\r\nok\r\n0\r\n\r\n", want: broken},
		{name: "chunk extensions", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;a=b;c=\"d;e\"\r\nok\r\n0;z\r\n\r\n", want: ok200("ok")},
		{name: "chunk data without CRLF", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok0\r\n\r\n" + smuggled, want: broken},
		{name: "chunk data longer than its size", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokay\r\n0\r\n\r\n", want: broken},
		{name: "oversized trailers", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-Big: " + strings.Repeat("t", 70<<10) + "\r\n\r\n",
			want: broken},
		{name: "trailers naming forbidden fields", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n2\r\nok\r\n0\r\n" +
			"Content-Length: 100\r\nTransfer-Encoding: chunked\r\nConnection: close\r\nHost: evil\r\nX-T: 1\r\n\r\n", want: ok200("ok")},
		{name: "Trailer announcing Transfer-Encoding", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: Transfer-Encoding\r\n\r\n2\r\nok\r\n0\r\n\r\n",
			want: badGateway},

		// Bytes beyond the answer.
		{name: "answer followed by another at once", answer: okHead + smuggled, want: ok200("ok")},
		{name: "answer followed by another later", answer: okHead, late: smuggled, want: ok200("ok")},
		{name: "chunked answer followed by another later", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", late: smuggled, want: ok200("ok")},
		{name: "204 with a body", answer: "HTTP/1.1 204 No Content\r\n\r\n" + smuggled, want: hostileOutcome{Code: 204}},
		{name: "204 with a body later", answer: "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", late: smuggled, want: hostileOutcome{Code: 204}},
		{name: "304 with a body", answer: "HTTP/1.1 304 Not Modified\r\nContent-Length: 8\r\n\r\nSMUGGLED", want: hostileOutcome{Code: 304}},
		{name: "HEAD answer with a body", method: "HEAD", answer: "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nSMUGGLED", want: hostileOutcome{Code: 200}},
		{name: "HEAD answer with a body later", method: "HEAD", answer: "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n", late: "SMUGGLED" + smuggled, want: hostileOutcome{Code: 200}},
		{name: "Connection: close honoured", answer: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", late: smuggled, want: ok200("ok")},
		{name: "answer before the request body, connection kept", method: "POST", body: 16 << 20, unread: true,
			answer: "HTTP/1.1 413 Content Too Large\r\nContent-Length: 3\r\n\r\nbig", want: hostileOutcome{Code: 413, Body: "big"},
			mayFail: "the front server closes on the client's unread body, a reset that may discard its answer; " +
				"that the Router does not hang is pinned by h1's TestAnswerBeforeTheRequestIsWritten"},
		{name: "answer before the request body, then close", method: "POST", body: 16 << 20, unread: true, closes: true,
			answer: "HTTP/1.1 413 Content Too Large\r\nConnection: close\r\nContent-Length: 3\r\n\r\nbig", want: hostileOutcome{Code: 413, Body: "big"},
			mayFail: "a close with the request body unread resets the connection (upstream's and the front's), which may discard the answer"},
		{name: "1xx flood", answer: strings.Repeat("HTTP/1.1 102 Processing\r\n\r\n", 100) + okHead, want: badGateway,
			differs: "stricter: at most 16 informational answers; net/http bounds them only by its 10 MB head limit"},
		{name: "101 without an upgrade request", answer: "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: evil\r\n\r\n" + smuggled, want: badGateway},
		{name: "100 Continue unasked", answer: "HTTP/1.1 100 Continue\r\n\r\n" + okHead, want: ok200("ok")},
		{name: "1xx with a body", answer: "HTTP/1.1 103 Early Hints\r\nContent-Length: 8\r\n\r\nSMUGGLED" + okHead, want: badGateway},

		// Head limits and bytes.
		{name: "very long status line", answer: "HTTP/1.1 200 " + strings.Repeat("r", 70<<10) + "\r\nContent-Length: 2\r\n\r\nok",
			want: badGateway, differs: "stricter: a head is bounded to 64 KiB; net/http's limit is 10 MB"},
		{name: "very long field line", answer: "HTTP/1.1 200 OK\r\nX-Long: " + strings.Repeat("v", 70<<10) + "\r\nContent-Length: 2\r\n\r\nok",
			want: badGateway, differs: "stricter: a head is bounded to 64 KiB; net/http's limit is 10 MB"},
		{name: "many fields", answer: "HTTP/1.1 200 OK\r\n" + strings.Repeat("X-Many: v\r\n", 5000) + "Content-Length: 2\r\n\r\nok", want: ok200("ok")},
		{name: "too many fields", answer: "HTTP/1.1 200 OK\r\n" + manyFields(10000) + "Content-Length: 2\r\n\r\nok",
			want: badGateway, differs: "stricter: a head is bounded to 64 KiB; net/http's limit is 10 MB"},
		{name: "NUL in a value", answer: "HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 2\r\n\r\nok", want: badGateway},
		{name: "bare CR in a value", answer: "HTTP/1.1 200 OK\r\nX-A: a\rContent-Length: 8\r\nContent-Length: 2\r\n\r\nok", want: badGateway},
		{name: "bare LF in a value", answer: "HTTP/1.1 200 OK\r\nX-A: a\nContent-Length: 8\r\nContent-Length: 2\r\n\r\nok",
			want: badGateway},
		{name: "obs-fold", answer: "HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 2\r\n\r\nok",
			want: badGateway, differs: strict + ": net/http joins folded lines, RFC 9112 5.2 lets a client reject them"},
		{name: "obs-fold hiding a Content-Length", answer: "HTTP/1.1 200 OK\r\nX-A: a\r\n Content-Length: 8\r\nContent-Length: 2\r\n\r\nok" + smuggled,
			want: badGateway, differs: strict + ": net/http joins folded lines, RFC 9112 5.2 lets a client reject them"},
		{name: "space before the colon", answer: "HTTP/1.1 200 OK\r\nContent-Length : 8\r\nContent-Length: 2\r\n\r\nok", want: badGateway,
			differs: strict + ": net/http's client keeps such a field under a name no one reads (RFC 9112 5.1 says reject)"},
		{name: "field name with a space inside", answer: "HTTP/1.1 200 OK\r\nContent Length: 8\r\nContent-Length: 2\r\n\r\nok", want: badGateway,
			differs: strict + ": net/http's client keeps such a field under a name no one reads"},
		{name: "NUL in the status line", answer: "HTTP/1.1 200 O\x00K\r\nContent-Length: 2\r\n\r\nok", want: badGateway,
			differs: strict + ": net/http keeps any byte in the reason phrase"},
	}
}

// manyFields returns n distinct field lines.
func manyFields(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "X-F%d: v\r\n", i)
	}
	return b.String()
}

// discardLog is a logger that drops what it is given.
func discardLog() *log.Logger { return log.New(io.Discard, "", 0) }

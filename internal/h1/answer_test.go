package h1

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// get sends one request through t to the backend and reads the whole
// answer.
func get(t *testing.T, tr *Transport, method, addr string) (*http.Response, string, error) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+addr+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := tr.RoundTrip(req)
	if err != nil {
		return nil, "", err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(body), err
}

// answer is what a test checks of a response.
type answer struct {
	Status        string
	Code          int
	Proto         string
	Header        http.Header
	Body          string
	Trailer       http.Header
	ContentLength int64
	TE            []string
	Close         bool
}

func TestAnswersAreParsed(t *testing.T) {
	cases := []struct {
		name   string
		method string
		raw    string
		closes bool // the backend closes after the answer
		want   answer
		// reused reports whether a second request reuses the connection.
		reused bool
	}{{
		name: "content-length",
		raw:  "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\nx-a: 2\r\n\r\nhello",
		want: answer{Status: "200 OK", Code: 200, Proto: "HTTP/1.1", Header: http.Header{"Content-Length": {"5"}, "X-A": {"1", "2"}},
			Body: "hello", ContentLength: 5},
		reused: true,
	}, {
		name: "chunked with extensions and trailers",
		raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: grpc-status\r\n\r\n" +
			"5;name=value\r\nhello\r\n1 ; x\r\n!\r\n0\r\nGrpc-Status: 0\r\nx-extra: y\r\n\r\n",
		want: answer{Status: "200 OK", Code: 200, Proto: "HTTP/1.1", Header: http.Header{}, Body: "hello!",
			Trailer: http.Header{"Grpc-Status": {"0"}, "X-Extra": {"y"}}, ContentLength: -1, TE: []string{"chunked"}},
		reused: true,
	}, {
		name: "chunked in upper case, empty trailer section",
		raw:  "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n",
		want: answer{Status: "200 OK", Code: 200, Proto: "HTTP/1.1", Header: http.Header{}, Body: "0123456789",
			ContentLength: -1, TE: []string{"chunked"}},
		reused: true,
	}, {
		name:   "delimited by the end of the connection",
		raw:    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end",
		closes: true,
		want: answer{Status: "200 OK", Code: 200, Proto: "HTTP/1.1", Header: http.Header{"Content-Type": {"text/plain"}},
			Body: "until the end", ContentLength: -1, Close: true},
	}, {
		name: "HTTP/1.0 closes unless keep-alive",
		raw:  "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
		want: answer{Status: "200 OK", Code: 200, Proto: "HTTP/1.0", Header: http.Header{"Content-Length": {"2"}},
			Body: "ok", ContentLength: 2, Close: true},
	}, {
		name: "HTTP/1.0 keep-alive",
		raw:  "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
		want: answer{Status: "200 OK", Code: 200, Proto: "HTTP/1.0", Header: http.Header{"Connection": {"keep-alive"}, "Content-Length": {"2"}},
			Body: "ok", ContentLength: 2},
		reused: true,
	}, {
		name: "Connection: close is applied and removed",
		raw:  "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
		want: answer{Status: "200 OK", Code: 200, Proto: "HTTP/1.1", Header: http.Header{"Content-Length": {"2"}},
			Body: "ok", ContentLength: 2, Close: true},
	}, {
		name:   "204 has no body whatever its fields say",
		raw:    "HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n",
		want:   answer{Status: "204 No Content", Code: 204, Proto: "HTTP/1.1", Header: http.Header{"Content-Length": {"7"}}},
		reused: true,
	}, {
		name:   "304 has no body",
		raw:    "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
		want:   answer{Status: "304 Not Modified", Code: 304, Proto: "HTTP/1.1", Header: http.Header{}, TE: []string{"chunked"}},
		reused: true,
	}, {
		name:   "HEAD keeps the length it announces",
		method: "HEAD",
		raw:    "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n",
		want: answer{Status: "200 OK", Code: 200, Proto: "HTTP/1.1", Header: http.Header{"Content-Length": {"1000"}},
			ContentLength: 1000},
		reused: true,
	}, {
		name:   "no reason phrase, empty reason phrase",
		raw:    "HTTP/1.1 201\r\nContent-Length: 0\r\n\r\n",
		want:   answer{Status: "201", Code: 201, Proto: "HTTP/1.1", Header: http.Header{"Content-Length": {"0"}}},
		reused: true,
	}, {
		name: "values trimmed, obs-text kept, names canonical",
		raw:  "HTTP/1.1 200 Fine\r\nx-custom-NAME: \t v a l \t\r\nX-Latin: caf\xe9\r\nEmpty:\r\nContent-Length: 0\r\n\r\n",
		want: answer{Status: "200 Fine", Code: 200, Proto: "HTTP/1.1", Header: http.Header{
			"X-Custom-Name": {"v a l"}, "X-Latin": {"caf\xe9"}, "Empty": {""}, "Content-Length": {"0"}}},
		reused: true,
	}, {
		name: "Pragma: no-cache implies Cache-Control, as in net/http",
		raw:  "HTTP/1.1 200 OK\r\nPragma: no-cache\r\nContent-Length: 0\r\n\r\n",
		want: answer{Status: "200 OK", Code: 200, Proto: "HTTP/1.1", Header: http.Header{
			"Pragma": {"no-cache"}, "Cache-Control": {"no-cache"}, "Content-Length": {"0"}}},
		reused: true,
	}, {
		name: "1xx answers are skipped",
		raw:  "HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		want: answer{Status: "200 OK", Code: 200, Proto: "HTTP/1.1", Header: http.Header{"Content-Length": {"2"}},
			Body: "ok", ContentLength: 2},
		reused: true,
	}, {
		name: "a 5xx is an answer like any other",
		raw:  "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 4\r\n\r\nbusy",
		want: answer{Status: "503 Service Unavailable", Code: 503, Proto: "HTTP/1.1", Header: http.Header{
			"Retry-After": {"1"}, "Content-Length": {"4"}}, Body: "busy", ContentLength: 4},
		reused: true,
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			be := newRawBackend(t, func(int, *received) (string, bool) { return tc.raw, tc.closes })
			tr := New(Options{})
			defer tr.CloseIdleConnections()
			method := tc.method
			if method == "" {
				method = "GET"
			}
			res, body, err := get(t, tr, method, be.addr)
			if err != nil {
				t.Fatal(err)
			}
			got := answer{Status: res.Status, Code: res.StatusCode, Proto: res.Proto, Header: res.Header, Body: body,
				Trailer: res.Trailer, ContentLength: res.ContentLength, TE: res.TransferEncoding, Close: res.Close}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
			if _, _, err := get(t, tr, method, be.addr); err != nil {
				t.Fatal(err)
			}
			if reused := be.accepted.Load() == 1; reused != tc.reused {
				t.Errorf("second request reused the connection: %v, want %v (%d connections)", reused, tc.reused, be.accepted.Load())
			}
		})
	}
}

func TestMalformedAnswersAreErrors(t *testing.T) {
	big := strings.Repeat("x", DefaultMaxHeaderBytes)
	cases := []struct{ name, raw string }{
		{"two Content-Length fields with the same value", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello"},
		{"Content-Length list", "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello"},
		{"negative Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"},
		{"signed Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello"},
		{"empty Content-Length", "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n"},
		{"Content-Length beyond int64", "HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775808\r\n\r\n"},
		{"Transfer-Encoding and Content-Length", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
		{"Transfer-Encoding other than chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"},
		{"Transfer-Encoding list", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"},
		{"two Transfer-Encoding fields", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
		{"Transfer-Encoding in HTTP/1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
		{"bare LF ends the status line", "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n"},
		{"bare LF ends a field", "HTTP/1.1 200 OK\r\nContent-Length: 0\n\r\n"},
		{"bare LF ends the head", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\n"},
		{"obs-fold", "HTTP/1.1 200 OK\r\nX-A: 1\r\n 2\r\nContent-Length: 0\r\n\r\n"},
		{"obs-fold with a tab", "HTTP/1.1 200 OK\r\nX-A: 1\r\n\t2\r\nContent-Length: 0\r\n\r\n"},
		{"whitespace before the colon", "HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n"},
		{"empty field name", "HTTP/1.1 200 OK\r\n: v\r\nContent-Length: 0\r\n\r\n"},
		{"field line without colon", "HTTP/1.1 200 OK\r\nGarbage\r\nContent-Length: 0\r\n\r\n"},
		{"NUL in a value", "HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 0\r\n\r\n"},
		{"bare CR in a value", "HTTP/1.1 200 OK\r\nX-A: a\rb\r\nContent-Length: 0\r\n\r\n"},
		{"DEL in a value", "HTTP/1.1 200 OK\r\nX-A: a\x7fb\r\nContent-Length: 0\r\n\r\n"},
		{"head larger than the limit", "HTTP/1.1 200 OK\r\nX-Big: " + big + "\r\nContent-Length: 0\r\n\r\n"},
		{"status code below 100", "HTTP/1.1 099 Odd\r\nContent-Length: 0\r\n\r\n"},
		{"status code above 599", "HTTP/1.1 600 Odd\r\nContent-Length: 0\r\n\r\n"},
		{"status code not a number", "HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n"},
		{"four-digit status code", "HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n"},
		{"HTTP/2.0", "HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"},
		{"lower-case version", "http/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"},
		{"two spaces before the status", "HTTP/1.1  200 OK\r\nContent-Length: 0\r\n\r\n"},
		{"no space after the status", "HTTP/1.1 200OK\r\nContent-Length: 0\r\n\r\n"},
		{"control character in the reason", "HTTP/1.1 200 O\x01K\r\nContent-Length: 0\r\n\r\n"},
		{"empty line before the status line", "\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"},
		{"101 to a request without upgrade", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"},
		{"too many 1xx", strings.Repeat("HTTP/1.1 102 Processing\r\n\r\n", max1xx+2) + "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"},
		{"Trailer announcing Content-Length", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: Content-Length\r\n\r\n0\r\n\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			be := newRawBackend(t, always(tc.raw))
			tr := New(Options{})
			defer tr.CloseIdleConnections()
			res, _, err := get(t, tr, "GET", be.addr)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("got %v, %v; want an error wrapping ErrMalformed", res, err)
			}
			if n := tr.pool(be.addr).idleCount(); n != 0 {
				t.Errorf("%d connections kept after a malformed answer", n)
			}
		})
	}
}

func TestMalformedBodiesFailTheRead(t *testing.T) {
	cases := []struct {
		name, raw string
		closes    bool
		want      error
	}{
		{"chunk size not hexadecimal", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false, ErrMalformed},
		{"chunk size with a sign", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n+5\r\nhello\r\n0\r\n\r\n", false, ErrMalformed},
		{"chunk size with garbage after it", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 x\r\nhello\r\n0\r\n\r\n", false, ErrMalformed},
		{"chunk-size line ended by a bare LF", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n", false, ErrMalformed},
		{"chunk data not followed by CRLF", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloX\r\n0\r\n\r\n", false, ErrMalformed},
		{"chunk size beyond int64", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n80000000000000000\r\n", false, ErrMalformed},
		{"control character in a chunk extension", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a\x01\r\nhello\r\n0\r\n\r\n", false, ErrMalformed},
		{"chunk-size line too long", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;" + strings.Repeat("e", 5000) + "\r\nhello\r\n0\r\n\r\n", false, ErrMalformed},
		{"obs-fold in the trailers", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-A: 1\r\n 2\r\n\r\n", false, ErrMalformed},
		{"bare LF in the trailers", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-A: 1\n\r\n", false, ErrMalformed},
		{"body shorter than its Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", true, io.ErrUnexpectedEOF},
		{"chunked body cut short", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", true, io.ErrUnexpectedEOF},
		{"chunked body without its last chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", true, io.ErrUnexpectedEOF},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			be := newRawBackend(t, func(int, *received) (string, bool) { return tc.raw, tc.closes })
			tr := New(Options{})
			defer tr.CloseIdleConnections()
			_, body, err := get(t, tr, "GET", be.addr)
			if !errors.Is(err, tc.want) {
				t.Fatalf("read %q, %v; want an error wrapping %v", body, err, tc.want)
			}
			if n := tr.pool(be.addr).idleCount(); n != 0 {
				t.Errorf("%d connections kept after a broken body", n)
			}
		})
	}
}

func TestInformationalAnswersReachTheTrace(t *testing.T) {
	be := newRawBackend(t, always("HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"+
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
	tr := New(Options{})
	defer tr.CloseIdleConnections()
	type info struct {
		Code   int
		Header textproto.MIMEHeader
	}
	var got []info
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			got = append(got, info{code, h})
			return nil
		},
	})
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+be.addr+"/", nil)
	res, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	want := []info{{103, textproto.MIMEHeader{"Link": {"</style.css>; rel=preload"}}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("1xx seen by the trace (-want +got):\n%s", diff)
	}
}

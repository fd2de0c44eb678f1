package h1

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

const okAnswer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

// onlyReader hides the type of a reader, as a server's request body does.
type onlyReader struct{ io.Reader }

func TestRequestsAreWrittenAsNetHTTPWritesThem(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 8<<10) // 128 KiB, streamed
	cases := []struct {
		name  string
		build func(addr string) *http.Request
		want  received
	}{{
		name: "GET with fields, query and escaped path",
		build: func(addr string) *http.Request {
			r, _ := http.NewRequest("GET", "http://"+addr+"/a%2Fb/c?x=1&y", nil)
			r.Host = "app.example.com"
			r.Header["X-Multi"] = []string{"1", " 2 "}
			r.Header.Set("User-Agent", "agent/1")
			return r
		},
		want: received{Method: "GET", URI: "/a%2Fb/c?x=1&y", Proto: "HTTP/1.1", Host: "app.example.com",
			Header: http.Header{"X-Multi": {"1", "2"}, "User-Agent": {"agent/1"}}},
	}, {
		name: "an empty User-Agent is not sent, the Host defaults to the address",
		build: func(addr string) *http.Request {
			r, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
			r.Header.Set("User-Agent", "")
			return r
		},
		want: received{Method: "GET", URI: "/", Proto: "HTTP/1.1", Host: "ADDR", Header: http.Header{}},
	}, {
		name: "POST without body says Content-Length: 0",
		build: func(addr string) *http.Request {
			r, _ := http.NewRequest("POST", "http://"+addr+"/p", nil)
			return r
		},
		want: received{Method: "POST", URI: "/p", Proto: "HTTP/1.1", Host: "ADDR", Header: http.Header{"Content-Length": {"0"}}},
	}, {
		name: "POST with a small body, held and sent in one write",
		build: func(addr string) *http.Request {
			r, _ := http.NewRequest("POST", "http://"+addr+"/p", onlyReader{strings.NewReader("payload")})
			r.ContentLength = 7
			r.Header["Content-Length"] = []string{"999"} // ignored, as in net/http
			return r
		},
		want: received{Method: "POST", URI: "/p", Proto: "HTTP/1.1", Host: "ADDR", Header: http.Header{"Content-Length": {"7"}},
			Body: "payload", Length: 7},
	}, {
		name: "PUT with a large body, streamed",
		build: func(addr string) *http.Request {
			r, _ := http.NewRequest("PUT", "http://"+addr+"/p", onlyReader{iotest.HalfReader(strings.NewReader(big))})
			r.ContentLength = int64(len(big))
			return r
		},
		want: received{Method: "PUT", URI: "/p", Proto: "HTTP/1.1", Host: "ADDR", Header: http.Header{"Content-Length": {"131072"}},
			Body: big, Length: int64(len(big))},
	}, {
		name: "body of unknown length, chunked, with trailers",
		build: func(addr string) *http.Request {
			r, _ := http.NewRequest("POST", "http://"+addr+"/p", onlyReader{iotest.OneByteReader(strings.NewReader("abc"))})
			r.ContentLength = -1
			r.Trailer = http.Header{"X-Sum": nil}
			r.Body = trailerSetter{r.Body, r, "X-Sum", "6"}
			return r
		},
		want: received{Method: "POST", URI: "/p", Proto: "HTTP/1.1", Host: "ADDR", Header: http.Header{},
			Body: "abc", Trailer: http.Header{"X-Sum": {"6"}}, TE: []string{"chunked"}, Length: -1},
	}, {
		name: "GET whose server request was chunked stays chunked",
		build: func(addr string) *http.Request {
			r, _ := http.NewRequest("GET", "http://"+addr+"/", onlyReader{strings.NewReader("")})
			r.ContentLength = -1
			r.TransferEncoding = []string{"chunked"}
			return r
		},
		want: received{Method: "GET", URI: "/", Proto: "HTTP/1.1", Host: "ADDR", Header: http.Header{}, TE: []string{"chunked"}, Length: -1},
	}, {
		name: "Close asks the server to close",
		build: func(addr string) *http.Request {
			r, _ := http.NewRequest("DELETE", "http://"+addr+"/x", nil)
			r.Close = true
			return r
		},
		want: received{Method: "DELETE", URI: "/x", Proto: "HTTP/1.1", Host: "ADDR", Header: http.Header{"Connection": {"close"}}},
	}, {
		name: "an invalid Host is sent empty, as net/http does",
		build: func(addr string) *http.Request {
			r, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
			r.Host = "evil.example/path"
			return r
		},
		want: received{Method: "GET", URI: "/", Proto: "HTTP/1.1", Host: "", Header: http.Header{}},
	}, {
		name: "opaque URL",
		build: func(addr string) *http.Request {
			r, _ := http.NewRequest("OPTIONS", "http://"+addr+"/", nil)
			r.URL = &url.URL{Scheme: "http", Host: addr, Opaque: "*"}
			return r
		},
		want: received{Method: "OPTIONS", URI: "*", Proto: "HTTP/1.1", Host: "ADDR", Header: http.Header{}},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			be := newRawBackend(t, always(okAnswer))
			tr := New(Options{})
			defer tr.CloseIdleConnections()
			res, err := tr.RoundTrip(tc.build(be.addr))
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			got := be.requests()
			want := tc.want
			if want.Host == "ADDR" {
				want.Host = be.addr
			}
			want.Conn = 1
			if diff := cmp.Diff([]received{want}, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("request received (-want +got):\n%s", diff)
			}
		})
	}
}

// trailerSetter sets a trailer value when its body ends, as a server
// does once it has read a request's trailers.
type trailerSetter struct {
	io.ReadCloser
	r    *http.Request
	k, v string
}

func (ts trailerSetter) Read(p []byte) (int, error) {
	n, err := ts.ReadCloser.Read(p)
	if err == io.EOF {
		ts.r.Trailer.Set(ts.k, ts.v)
	}
	return n, err
}

func TestInvalidRequestsAreNotSent(t *testing.T) {
	cases := []struct {
		name  string
		build func(addr string) *http.Request
	}{{
		name: "field value with a line break",
		build: func(addr string) *http.Request {
			r, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
			r.Header["X-A"] = []string{"a\r\nInjected: yes"}
			return r
		},
	}, {
		name: "field name with a space",
		build: func(addr string) *http.Request {
			r, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
			r.Header["X A"] = []string{"v"}
			return r
		},
	}, {
		name: "method with a space",
		build: func(addr string) *http.Request {
			r, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
			r.Method = "GET /x"
			return r
		},
	}, {
		name: "control character in the path",
		build: func(addr string) *http.Request {
			r, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
			r.URL.Opaque = "/a\nb"
			return r
		},
	}, {
		name: "body longer than its Content-Length",
		build: func(addr string) *http.Request {
			r, _ := http.NewRequest("POST", "http://"+addr+"/", onlyReader{strings.NewReader("too long")})
			r.ContentLength = 3
			return r
		},
	}, {
		name: "body shorter than its Content-Length",
		build: func(addr string) *http.Request {
			r, _ := http.NewRequest("POST", "http://"+addr+"/", onlyReader{strings.NewReader("ab")})
			r.ContentLength = 3
			return r
		},
	}, {
		name: "trailer named Content-Length",
		build: func(addr string) *http.Request {
			r, _ := http.NewRequest("POST", "http://"+addr+"/", onlyReader{strings.NewReader("ab")})
			r.ContentLength = -1
			r.Trailer = http.Header{"Content-Length": nil}
			return r
		},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			be := newRawBackend(t, always(okAnswer))
			tr := New(Options{})
			defer tr.CloseIdleConnections()
			res, err := tr.RoundTrip(tc.build(be.addr))
			if err == nil {
				res.Body.Close()
				t.Fatal("sent")
			}
			if got := be.requests(); len(got) != 0 {
				t.Fatalf("the backend received %v", got)
			}
		})
	}
}

func TestUnsupportedRequestsAreLeftToAnotherTransport(t *testing.T) {
	cases := []struct {
		name  string
		build func() *http.Request
	}{{
		name: "upgrade",
		build: func() *http.Request {
			r, _ := http.NewRequest("GET", "http://x/", nil)
			r.Header.Set("Connection", "Upgrade")
			r.Header.Set("Upgrade", "websocket")
			return r
		},
	}, {
		name:  "CONNECT",
		build: func() *http.Request { r, _ := http.NewRequest("CONNECT", "http://x/", nil); return r },
	}, {
		name: "non-ASCII Host",
		build: func() *http.Request {
			r, _ := http.NewRequest("GET", "http://x/", nil)
			r.Host = "bücher.example"
			return r
		},
	}, {
		name: "IPv6 zone",
		build: func() *http.Request {
			r, _ := http.NewRequest("GET", "http://x/", nil)
			r.Host = "[fe80::1%25eth0]:80"
			return r
		},
	}, {
		name: "identity Transfer-Encoding",
		build: func() *http.Request {
			r, _ := http.NewRequest("POST", "http://x/", strings.NewReader("a"))
			r.TransferEncoding = []string{"identity"}
			return r
		},
	}, {
		name: "GET with a body of unknown length (net/http probes it)",
		build: func() *http.Request {
			r, _ := http.NewRequest("GET", "http://x/", onlyReader{strings.NewReader("a")})
			r.ContentLength = -1
			return r
		},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.build()
			if Supports(r) {
				t.Fatal("Supports accepted it")
			}
			if _, err := New(Options{}).Do(r, "127.0.0.1:1"); !errors.Is(err, ErrUnsupported) {
				t.Fatalf("Do: %v, want ErrUnsupported", err)
			}
		})
	}
}

func TestWritingARequestDoesNotAllocate(t *testing.T) {
	tr := New(Options{})
	r, _ := http.NewRequest("POST", "http://127.0.0.1:8080/api/v1/items?x=1", nil)
	r.Host = "api.example.com"
	r.Header = http.Header{
		"Accept":            {"*/*"},
		"User-Agent":        {"bench/1.0"},
		"X-Forwarded-For":   {"10.0.0.1"},
		"X-Forwarded-Host":  {"api.example.com"},
		"X-Forwarded-Proto": {"http"},
	}
	payload := make([]byte, 512)
	body := bytes.NewReader(payload)
	r.Body = io.NopCloser(body)
	r.ContentLength = 512
	s := tr.scratch.Get().(*scratch)
	allocs := testing.AllocsPerRun(100, func() {
		body.Reset(payload)
		if _, err := tr.prepare(r, "127.0.0.1:8080", s); err != nil {
			t.Fatal(err)
		}
		s.rw.bodyClose = false
	})
	if allocs != 0 {
		t.Fatalf("prepare allocates %v times per request, want 0", allocs)
	}
	if !bytes.Contains(s.w, []byte("Content-Length: 512\r\n")) || !bytes.HasSuffix(s.w, payload) {
		t.Fatalf("request = %q", s.w)
	}
}

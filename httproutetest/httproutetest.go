// Package httproutetest helps test filters, extensions and route sets
// table-driven: it builds a Router from YAML manifests, read by the
// manifest loader as production reads them (strictly, validated by the
// Gateway API CRDs, so that a manifest a cluster would refuse fails the
// test), backs every Service that a backendRef names with an echo backend
// that records what it received, and sends requests through the Router.
// An extension is registered once, in Options.Extensions, for the loader
// and the Router.
//
//	env := httproutetest.New(t, httproutetest.Options{
//		Extensions: []httproute.Extension{myfilter.Extension()},
//	}, routeYAML, filterObjectYAML)
//	env.Run(t, []httproutetest.Case{{
//		Name:    "rewrites",
//		Request: httproutetest.Request{Path: "/old/x"},
//		Want:    httproutetest.Want{Status: 200, Backend: "default/web:80", BackendPath: "/new/x"},
//	}})
//
// By default the Router and the backends run in process (no socket). With
// Options.Network, each backend is an HTTP server on 127.0.0.1 reached
// through an httproute.Upstream, and requests reach the Router through a
// server on 127.0.0.1 too, as they would in production.
package httproutetest

import (
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/manifest"
	"github.com/httproute/httproute/validation"
)

// IDHeader is the header with which Env tags each request it sends, so that
// what a backend received can be told apart per request.
const IDHeader = "Httproutetest-Id"

// Options configure an Env.
type Options struct {
	// Extensions are registered once, here: the manifest loader decodes
	// their kinds, and the Router serves them (they are the loaded
	// Config's Extensions, as manifest.Options.Extensions are).
	Extensions []httproute.Extension
	// Channel is the Gateway API release channel whose CRDs validate and
	// default the manifests, as manifest.Options.Channel: standard by
	// default, as in production; validation.Experimental for experimental
	// fields (sessionPersistence, ExternalAuth ...).
	Channel validation.Channel
	// NoValidation skips the CRD validation and defaulting, for tests of
	// what a Router does with objects an API server would refuse. The
	// manifests are still read strictly: unknown fields fail the test.
	NoValidation bool
	// Rand, Logger and Strict are passed to the Router's Config.
	Rand   rand.Source
	Logger *slog.Logger
	Strict bool
	// Network runs the Router and the backends as servers on 127.0.0.1.
	Network bool
	// Port, when set, serves requests as arriving on that listener port
	// (see httproute.Router.Port).
	Port int32
	// Backends, when they have an entry for a Service port, serve it
	// instead of an echo Backend (an unreachable Upstream, a slow one...).
	Backends httproute.Services
}

// Env is a Router under test with its backends.
type Env struct {
	Router *httproute.Router
	// Config is the Config the Router was built from.
	Config httproute.Config

	t        testing.TB
	opts     Options
	handler  http.Handler
	server   *httptest.Server
	mu       sync.Mutex
	backends map[httproute.ServicePort]*Backend
	nextID   atomic.Uint64
}

// New decodes the manifests (YAML, documents separated by "---") with the
// manifest loader, as production reads them (see Options.Decode), and
// builds a Router from them; a problem fails the test. Every Service a
// backendRef names resolves to a Backend of the Env.
func New(t testing.TB, opts Options, manifests ...string) *Env {
	t.Helper()
	e := &Env{t: t, opts: opts, backends: map[httproute.ServicePort]*Backend{}}
	cfg, err := opts.Decode(manifests...)
	if err != nil {
		t.Fatalf("httproutetest: %v", err)
	}
	cfg.Rand, cfg.Logger, cfg.Strict = opts.Rand, opts.Logger, opts.Strict
	cfg.Services = httproute.ServiceResolverFunc(e.resolve)
	e.Config = cfg
	e.Router, err = httproute.New(cfg)
	if err != nil {
		t.Fatalf("httproutetest: New: %v", err)
	}
	e.handler = e.Router
	if opts.Port != 0 {
		e.handler = e.Router.Port(opts.Port)
	}
	if opts.Network {
		e.server = httptest.NewServer(e.handler)
		t.Cleanup(e.server.Close)
	}
	return e
}

// Decode decodes manifests with the default Options and the given
// extensions: see Options.Decode.
func Decode(exts []httproute.Extension, manifests ...string) (httproute.Config, error) {
	return Options{Extensions: exts}.Decode(manifests...)
}

// Decode decodes manifests into a Config, without Services, with the
// manifest loader: strictly (unknown fields, values of the wrong type and
// unknown kinds are errors), validated and defaulted by the CRDs of
// o.Channel unless o.NoValidation, so that a manifest a cluster would
// refuse fails the test as manifest.Load fails in production. Core
// Services, Namespaces and Secrets load as the loader loads them. Errors
// name each manifest "manifests[i]", i its index among the arguments, with
// the line and column of the problem. The Config's Extensions are
// o.Extensions.
func (o Options) Decode(manifests ...string) (httproute.Config, error) {
	fsys := fstest.MapFS{}
	names := make([]string, len(manifests))
	for i, m := range manifests {
		names[i] = fmt.Sprintf("manifests[%d]", i)
		fsys[names[i]] = &fstest.MapFile{Data: []byte(m)}
	}
	opts := manifest.Options{Extensions: o.Extensions, NoValidation: o.NoValidation}
	if !o.NoValidation {
		v, ok := validators[o.Channel]
		if !ok {
			return httproute.Config{}, fmt.Errorf("httproutetest: unknown channel %s", o.Channel)
		}
		opts.Validator = v()
	}
	m, err := manifest.LoadFS(opts, fsys, names...)
	return m.Config, err
}

// validators are the Validators of the channels, shared by every Env of a
// test binary so that each CRD is compiled once: a Validator holds nothing
// but compiled schemas and a cache of outcomes, and is safe for concurrent
// use.
var validators = map[validation.Channel]func() *validation.Validator{
	validation.Standard:     sync.OnceValue(func() *validation.Validator { return validation.New(validation.Standard) }),
	validation.Experimental: sync.OnceValue(func() *validation.Validator { return validation.New(validation.Experimental) }),
}

func (e *Env) resolve(ref httproute.BackendRef) (httproute.Backend, error) {
	if b, ok := e.opts.Backends[httproute.ServicePort{Namespace: ref.Namespace, Name: ref.Name, Port: ref.Port}]; ok {
		return b, nil
	}
	b := e.Backend(ref.Namespace, ref.Name, ref.Port)
	if e.opts.Network {
		return b.upstream, nil
	}
	return httproute.Handler(b), nil
}

// Backend returns the backend of a Service port, creating it if no
// backendRef has named it yet.
func (e *Env) Backend(namespace, name string, port int32) *Backend {
	e.mu.Lock()
	defer e.mu.Unlock()
	key := httproute.ServicePort{Namespace: namespace, Name: name, Port: port}
	if b := e.backends[key]; b != nil {
		return b
	}
	b := &Backend{Name: namespace + "/" + name + ":" + strconv.Itoa(int(port)), changed: make(chan struct{})}
	if e.opts.Network {
		srv := httptest.NewServer(b)
		e.t.Cleanup(srv.Close)
		up, err := httproute.NewUpstream(httproute.UpstreamConfig{Endpoints: []string{srv.Listener.Addr().String()}})
		if err != nil {
			e.t.Fatalf("httproutetest: %v", err)
		}
		b.upstream = up
	}
	e.backends[key] = b
	return b
}

// Request is a request to send through the Router.
type Request struct {
	Method string // GET when empty
	Host   string // "example.com" when empty
	Path   string // with the query, "/" when empty
	Header http.Header
	Body   string
	// HTTPS sends the request as if over TLS (in process only).
	HTTPS bool
	// Chunked sends the body without a Content-Length.
	Chunked bool
}

// Exchange is what one request gave.
type Exchange struct {
	ID       string
	Response *http.Response
	// Body is the response body, read whole.
	Body string
	// Received is the request as the backend that answered it received
	// it, nil when no backend of the Env did (a redirect, a direct
	// response, a refusal).
	Received *Received
	// Backend is the name of that backend, "" when none.
	Backend string
}

// Do sends req through the Router.
func (e *Env) Do(req Request) *Exchange {
	e.t.Helper()
	id := strconv.FormatUint(e.nextID.Add(1), 10)
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	host := req.Host
	if host == "" {
		host = "example.com"
	}
	path := req.Path
	if path == "" {
		path = "/"
	}
	var body io.Reader
	if req.Body != "" {
		body = strings.NewReader(req.Body)
		if req.Chunked {
			body = struct{ io.Reader }{body}
		}
	}
	var res *http.Response
	if e.server != nil {
		if req.HTTPS {
			e.t.Fatalf("httproutetest: Request.HTTPS needs an Env without Network")
		}
		r, err := http.NewRequest(method, e.server.URL+path, body)
		if err != nil {
			e.t.Fatalf("httproutetest: %v", err)
		}
		r.Host = host
		for k, v := range req.Header {
			r.Header[k] = slices.Clone(v)
		}
		r.Header.Set(IDHeader, id)
		client := &http.Client{
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			Timeout:       30 * time.Second,
		}
		res, err = client.Do(r)
		if err != nil {
			e.t.Fatalf("httproutetest: %s %s: %v", method, path, err)
		}
	} else {
		scheme := "http://"
		if req.HTTPS {
			scheme = "https://"
		}
		r := httptest.NewRequest(method, scheme+host+path, body)
		for k, v := range req.Header {
			r.Header[k] = slices.Clone(v)
		}
		r.Header.Set(IDHeader, id)
		rec := httptest.NewRecorder()
		e.handler.ServeHTTP(rec, r)
		res = rec.Result()
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("httproutetest: reading the answer to %s %s: %v", method, path, err)
	}
	ex := &Exchange{ID: id, Response: res, Body: string(b)}
	ex.Backend = res.Header.Get(BackendHeader)
	if ex.Backend != "" {
		e.mu.Lock()
		for _, be := range e.backends {
			if be.Name == ex.Backend {
				ex.Received = be.find(id)
			}
		}
		e.mu.Unlock()
	}
	return ex
}

// Case is one row of a table test.
type Case struct {
	Name    string
	Request Request
	Want    Want
}

// Want is what a Case expects. Zero fields are not checked.
type Want struct {
	Status int
	// Header must be in the response with these values (comma-joined when
	// repeated); AbsentHeader must not.
	Header       map[string]string
	AbsentHeader []string
	Body         string
	// Backend is the backend that must have answered ("namespace/name:port");
	// "-" requires that none did.
	Backend string
	// BackendMethod, BackendHost, BackendPath (with the query, when the
	// request had one) and BackendHeader are what the backend must have
	// received; BackendAbsentHeader must not have reached it.
	BackendMethod       string
	BackendHost         string
	BackendPath         string
	BackendHeader       map[string]string
	BackendAbsentHeader []string
	BackendBody         string
}

// Run runs the cases as subtests.
func (e *Env) Run(t *testing.T, cases []Case) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			t.Helper()
			ex := e.Do(c.Request)
			for _, msg := range Check(ex, c.Want) {
				t.Error(msg)
			}
		})
	}
}

// Check returns how ex differs from w, one message per difference.
func Check(ex *Exchange, w Want) []string {
	var out []string
	res := ex.Response
	if w.Status != 0 && res.StatusCode != w.Status {
		out = append(out, fmt.Sprintf("status = %d, want %d (body %q)", res.StatusCode, w.Status, ex.Body))
	}
	out = checkHeaders(out, "response header", res.Header, w.Header, w.AbsentHeader)
	if w.Body != "" && ex.Body != w.Body {
		out = append(out, fmt.Sprintf("body = %q, want %q", ex.Body, w.Body))
	}
	switch {
	case w.Backend == "-":
		if ex.Received != nil || ex.Backend != "" {
			out = append(out, fmt.Sprintf("backend %s answered, want none", ex.Backend))
		}
		return out
	case w.Backend != "" && ex.Backend != w.Backend:
		out = append(out, fmt.Sprintf("backend = %q, want %q", ex.Backend, w.Backend))
	}
	rcv := ex.Received
	wantsBackend := w.BackendMethod != "" || w.BackendHost != "" || w.BackendPath != "" ||
		len(w.BackendHeader) > 0 || len(w.BackendAbsentHeader) > 0 || w.BackendBody != ""
	if !wantsBackend {
		return out
	}
	if rcv == nil {
		return append(out, "no backend received the request")
	}
	if w.BackendMethod != "" && rcv.Method != w.BackendMethod {
		out = append(out, fmt.Sprintf("backend method = %q, want %q", rcv.Method, w.BackendMethod))
	}
	if w.BackendHost != "" && rcv.Host != w.BackendHost {
		out = append(out, fmt.Sprintf("backend host = %q, want %q", rcv.Host, w.BackendHost))
	}
	if w.BackendPath != "" && rcv.Path != w.BackendPath {
		out = append(out, fmt.Sprintf("backend path = %q, want %q", rcv.Path, w.BackendPath))
	}
	out = checkHeaders(out, "backend header", rcv.Header, w.BackendHeader, w.BackendAbsentHeader)
	if w.BackendBody != "" && rcv.Body != w.BackendBody {
		out = append(out, fmt.Sprintf("backend body = %q, want %q", rcv.Body, w.BackendBody))
	}
	return out
}

// checkHeaders appends to out how h differs from the wanted values (a
// repeated header compared as its values joined by ",") and absences.
func checkHeaders(out []string, what string, h http.Header, want map[string]string, absent []string) []string {
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if got := strings.Join(h.Values(k), ","); got != want[k] {
			out = append(out, fmt.Sprintf("%s %s = %q, want %q", what, k, got, want[k]))
		}
	}
	for _, k := range absent {
		if v := h.Values(k); len(v) > 0 {
			out = append(out, fmt.Sprintf("%s %s = %q, want it absent", what, k, v))
		}
	}
	return out
}

package httproute

import (
	"fmt"
	"io"
	"iter"
	"log/slog"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// A Backend receives the requests routed to one backendRef. It has the
// shape of http.RoundTripper so that the Router sees the status of an answer
// before any byte of it reaches the client: that is what lets retries and
// response filters work on any backend. The Router proxies the response to
// the client, adding X-Forwarded-For, -Host and -Proto to the request and
// removing hop-by-hop headers both ways.
//
// The Backend returned by InProcess (and Limit of one) is called through
// its handler instead: the request reaches it as the Router filtered it,
// in process, with streaming and http.Hijacker available. Any other
// Backend, even one that also has a ServeHTTP method, is called through
// RoundTrip.
//
// Backends are resolved once, when a Config is compiled, never per request.
type Backend interface {
	RoundTrip(*http.Request) (*http.Response, error)
}

// ObjectRef identifies an object that a route references, after defaulting:
// the group and kind as written (group "" is the core group), the
// namespace (the route's own when the reference names none) and the name.
type ObjectRef struct {
	Group     string
	Kind      string
	Namespace string
	Name      string
	// Object is the referenced object when Config.Objects holds one of
	// this group, kind, namespace and name, and nil otherwise.
	Object Object
	// Secret returns a Secret of Config.Secrets that the referenced object
	// may read, for extensions whose objects name Secrets (credentials,
	// keys): one in the object's own namespace, or in another namespace
	// whose ReferenceGrant lets the object's group and kind reference
	// Secrets. Its errors wrap ErrNotFound or ErrNotPermitted. It is set
	// for references to extension kinds; nil otherwise.
	Secret func(namespace, name string) (*corev1.Secret, error)
}

// BackendRef is a backendRef after defaulting, as resolvers see it.
type BackendRef struct {
	ObjectRef
	// Port is the port of the reference, 0 when it has none.
	Port int32
	// Filters are the ExtensionRef filters of the backendRef, in order,
	// with the route's namespace (Object and Secret unset), so that a
	// backend kind that depends on one (kgateway's Parameter picking a
	// Lambda function, say) can refuse a missing or wrong one when the
	// Config is compiled.
	Filters []ObjectRef
}

func (r BackendRef) String() string {
	s := r.Namespace + "/" + r.Name
	if r.Kind != "Service" || r.Group != "" {
		s = r.Kind + "." + r.Group + ":" + s
		if r.Group == "" {
			s = r.Kind + ":" + r.Namespace + "/" + r.Name
		}
	}
	if r.Port != 0 {
		s += ":" + strconv.Itoa(int(r.Port))
	}
	return s
}

// A ServiceResolver turns backendRefs to Services into Backends. It returns
// an error wrapping ErrNotFound when the Service or port does not exist, or
// ErrUnsupported (with reason UnsupportedProtocol) when its appProtocol
// cannot be served.
type ServiceResolver interface {
	ResolveService(ref BackendRef) (Backend, error)
}

// ServiceResolverFunc adapts a function to a ServiceResolver.
type ServiceResolverFunc func(ref BackendRef) (Backend, error)

// ResolveService calls f.
func (f ServiceResolverFunc) ResolveService(ref BackendRef) (Backend, error) { return f(ref) }

// ServicePort names one port of one Service.
type ServicePort struct {
	Namespace string
	Name      string
	Port      int32
}

// Services is a ServiceResolver backed by a map.
type Services map[ServicePort]Backend

// ResolveService returns the Backend stored for the reference's namespace,
// name and port.
func (s Services) ResolveService(ref BackendRef) (Backend, error) {
	if b, ok := s[ServicePort{ref.Namespace, ref.Name, ref.Port}]; ok && b != nil {
		return b, nil
	}
	return nil, fmt.Errorf("service %s/%s port %d: %w", ref.Namespace, ref.Name, ref.Port, ErrNotFound)
}

// An Extension adds a kind of object that routes can reference: as the
// target of an ExtensionRef filter, as a backendRef, or both. Extensions are
// keyed by group and kind; the version is what manifests write in
// apiVersion.
type Extension struct {
	// Kind is the group, version and kind the extension serves.
	Kind schema.GroupVersionKind
	// New returns an empty object of the kind, into which the manifest
	// loader decodes YAML. Nil means the kind has no objects: references to
	// it are resolved by name alone.
	New func() Object
	// Filter builds the filter for an ExtensionRef to the kind. Nil means
	// the kind cannot be used as a filter.
	Filter func(ref ObjectRef) (Filter, error)
	// Backend builds the backend for a backendRef to the kind. Nil means
	// the kind cannot be used as a backend.
	Backend func(ref BackendRef) (Backend, error)
}

// InProcess returns a Backend that serves requests in process with h:
// the request reaches h as the Router has filtered it, without a network
// hop. As a backendRef, h is called through ServeHTTP and writes to the
// client (when a retry or session policy applies, through a writer that
// holds the answer back until the policy has seen its status). Called
// through RoundTrip, as mirrors and external authorization call their
// backends, h runs in its own goroutine and its answer is streamed
// through a pipe; a panic before h answered is an error, never an
// implicit 200.
//
//	Services: httproute.Services{
//		{Namespace: "default", Name: "api", Port: 8080}: httproute.InProcess(apiMux),
//	}
//
// Only the Backends InProcess returns (and Limit of them) are served in
// process: a decorator of one is a plain Backend, called through
// RoundTrip.
func InProcess(h http.Handler) Backend { return handlerBackend{h} }

// Handler returns InProcess(h).
//
// Deprecated: Use InProcess, which says at the call site that h is served
// in process.
func Handler(h http.Handler) Backend { return InProcess(h) }

type handlerBackend struct{ h http.Handler }

func (b handlerBackend) ServeHTTP(w http.ResponseWriter, r *http.Request) { b.h.ServeHTTP(w, r) }

func (b handlerBackend) inProcess() http.Handler { return b.h }

// inProcessBackend is the marker of the Backends served in process: those
// InProcess returns and Limit of them. The method is unexported so that
// no Backend becomes one by accident, by merely having ServeHTTP.
type inProcessBackend interface {
	Backend
	inProcess() http.Handler
}

// inProcessHandler returns the handler of a Backend served in process.
func inProcessHandler(b Backend) (http.Handler, bool) {
	if ip, ok := b.(inProcessBackend); ok {
		return ip.inProcess(), true
	}
	return nil, false
}

// RoundTrip runs the handler and returns its answer as soon as the handler
// writes its header, with the body streamed as the handler writes it.
func (b handlerBackend) RoundTrip(r *http.Request) (*http.Response, error) {
	pr, pw := io.Pipe()
	rw := &pipeWriter{header: http.Header{}, pw: pw, ready: make(chan struct{})}
	failed := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				err := fmt.Errorf("%w: handler panic: %v", ErrBackend, p)
				pw.CloseWithError(err)
				failed <- err // answered already, or RoundTrip returns err
				return
			}
			rw.WriteHeader(http.StatusOK) // the implicit 200 of a handler that wrote nothing
			pw.Close()
		}()
		b.h.ServeHTTP(rw, r)
	}()
	select {
	case <-rw.ready:
	case err := <-failed:
		select {
		case <-rw.ready: // it answered before panicking: the body carries the error
		default:
			return nil, err
		}
	case <-r.Context().Done():
		pw.CloseWithError(r.Context().Err())
		return nil, r.Context().Err()
	}
	return &http.Response{
		Status:        strconv.Itoa(rw.code) + " " + http.StatusText(rw.code),
		StatusCode:    rw.code,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        rw.sent,
		Body:          pr,
		ContentLength: -1,
		Request:       r,
	}, nil
}

// pipeWriter is the http.ResponseWriter of a handler run by RoundTrip.
type pipeWriter struct {
	header http.Header
	sent   http.Header
	code   int
	once   sync.Once
	ready  chan struct{}
	pw     *io.PipeWriter
}

func (w *pipeWriter) Header() http.Header { return w.header }

func (w *pipeWriter) WriteHeader(code int) {
	if code < 200 {
		return // informational answers are not passed on
	}
	w.once.Do(func() {
		w.code = code
		w.sent = w.header.Clone()
		close(w.ready)
	})
}

func (w *pipeWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.pw.Write(p)
}

func (w *pipeWriter) Flush() { w.WriteHeader(http.StatusOK) }

// NewTransport returns an http.Transport tuned for proxying: no
// environment proxy, no transparent compression, large idle pools per
// host closed after IdleConnTimeout, and with h2c, HTTP/2 over cleartext
// with prior knowledge.
func NewTransport(h2c bool) *http.Transport {
	t := &http.Transport{
		DialContext: (&net.Dialer{
			Timeout:   10 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:          0,
		MaxIdleConnsPerHost:   512,
		IdleConnTimeout:       IdleConnTimeout,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
		WriteBufferSize:       32 << 10,
		ReadBufferSize:        32 << 10,
	}
	if h2c {
		t.Protocols = new(http.Protocols)
		t.Protocols.SetUnencryptedHTTP2(true)
	}
	return t
}

// bufferPool recycles the 32 KiB buffers that copy response bodies (the
// proxy's, and the ReverseProxy's of protocol upgrades). The pool holds
// array pointers, so that Put converts the slice back without
// allocating.
type bufferPool struct{ p sync.Pool }

const copyBufferSize = 32 << 10

func newBufferPool() *bufferPool {
	return &bufferPool{p: sync.Pool{New: func() any { return new([copyBufferSize]byte) }}}
}

func (bp *bufferPool) Get() []byte { return bp.p.Get().(*[copyBufferSize]byte)[:] }

func (bp *bufferPool) Put(b []byte) {
	if len(b) == copyBufferSize {
		bp.p.Put((*[copyBufferSize]byte)(b))
	}
}

// withoutConnectionFields returns h without the fields its Connection
// header names (RFC 9110 section 7.6.1): they describe the client's
// connection, not the request, and are removed when the request arrives,
// before matching and filters, so that whatever a filter sets reaches the
// backend. "close" names no field; "upgrade" keeps Upgrade, which a
// protocol upgrade needs, and stays in Connection. h itself is returned
// when Connection names no field that h holds (as "Connection:
// keep-alive" without a Keep-Alive field), otherwise a modified copy.
func withoutConnectionFields(h http.Header) http.Header {
	conn := h["Connection"]
	if !namesPresentField(h, conn) {
		return h
	}
	h2 := h.Clone()
	var keep []string
	for tok := range connectionTokens(conn) {
		if strings.EqualFold(tok, "close") || strings.EqualFold(tok, "upgrade") {
			keep = append(keep, tok)
		} else {
			delete(h2, textproto.CanonicalMIMEHeaderKey(tok))
		}
	}
	delete(h2, "Connection")
	if len(keep) > 0 {
		h2["Connection"] = []string{strings.Join(keep, ", ")}
	}
	return h2
}

// namesPresentField reports whether the Connection values conn name a
// field of h other than Upgrade. It does not allocate.
func namesPresentField(h http.Header, conn []string) bool {
	for tok := range connectionTokens(conn) {
		if strings.EqualFold(tok, "close") || strings.EqualFold(tok, "upgrade") {
			continue
		}
		for k := range h {
			if strings.EqualFold(k, tok) {
				return true
			}
		}
	}
	return false
}

// connectionTokens yields the tokens of Connection field values, the
// names of the fields they list (or "close", "upgrade"), trimmed, empty
// list elements skipped.
func connectionTokens(values []string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for _, v := range values {
			for v != "" {
				var tok string
				tok, v, _ = strings.Cut(v, ",")
				if tok = textproto.TrimString(tok); tok != "" && !yield(tok) {
					return
				}
			}
		}
	}
}

// slogWriter turns the standard logger's lines into debug records.
type slogWriter struct{ l *slog.Logger }

func (s slogWriter) Write(p []byte) (int, error) {
	s.l.Debug(strings.TrimSpace(string(p)))
	return len(p), nil
}

// backendHandler returns the terminal handler of a resolved backendRef.
func backendHandler(b Backend, ref BackendRef, e *env) http.Handler {
	if h, ok := inProcessHandler(b); ok {
		return h
	}
	return newProxy(b, ref, e.buffers, e.logger, proxyError(ref, e.logger))
}

// errorHandler answers every request with the status of err.
type errorHandler struct{ err error }

func (e errorHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if st := stateFrom(r.Context()); st != nil {
		st.attemptErr = e.err // an invalid backendRef: not the backend's answer
	}
	writeError(w, e.err)
}

package httproute

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http/httpguts"
)

// proxy forwards requests to a RoundTripper-shaped Backend and copies its
// answers back. It does what httputil.ReverseProxy configured with
// forwardRewrite does (RFC 9110 section 7.6.1 hop-by-hop fields removed
// both ways, X-Forwarded-* set, 1xx answers passed on, trailers announced
// and copied, answers of unknown length and event streams flushed as they
// come, a body cut short aborting the answer), building the outgoing
// request in one allocation instead of a deep clone. Protocol upgrades
// and CONNECT go through a ReverseProxy, which splices upgraded
// connections.
type proxy struct {
	backend Backend
	// host is the URL host naming the backendRef; an Upstream replaces it
	// with the endpoint it picks.
	host    string
	buffers *bufferPool
	logger  *slog.Logger
	// fail answers (or records) a failed exchange.
	fail    func(w http.ResponseWriter, r *http.Request, err error)
	upgrade *httputil.ReverseProxy
	// exchanges holds exchanges for reuse; see release.
	exchanges sync.Pool
}

// newProxy returns the proxy to b for ref.
func newProxy(b Backend, ref BackendRef, buffers *bufferPool, logger *slog.Logger, fail func(http.ResponseWriter, *http.Request, error)) *proxy {
	host := ref.Name + "." + ref.Namespace
	if ref.Port != 0 {
		host += ":" + strconv.Itoa(int(ref.Port))
	}
	return &proxy{
		backend: b,
		host:    host,
		buffers: buffers,
		logger:  logger,
		fail:    fail,
		upgrade: &httputil.ReverseProxy{
			Transport:    b,
			BufferPool:   buffers,
			Rewrite:      forwardRewrite(host),
			ErrorLog:     log.New(slogWriter{logger}, "", 0),
			ErrorHandler: fail,
		},
	}
}

// forwardRewrite returns the Rewrite of the upgrade path, the same
// forwarding as outgoing's: the Host the client sent is kept (the spec
// forbids changing it unless a filter does), X-Forwarded-For is appended
// to as Envoy does, and X-Forwarded-Host and -Proto are set.
func forwardRewrite(host string) func(*httputil.ProxyRequest) {
	return func(pr *httputil.ProxyRequest) {
		if xff := pr.In.Header["X-Forwarded-For"]; len(xff) > 0 {
			pr.Out.Header["X-Forwarded-For"] = append([]string(nil), xff...)
		}
		pr.SetXForwarded()
		pr.Out.URL.Scheme = "http"
		pr.Out.URL.Host = host
		pr.Out.Host = pr.In.Host
	}
}

// exchange is the state of one proxied request, allocated together and
// reused: the outgoing request, its URL and header map, the values of
// the fields the proxy sets, and the trace passing 1xx answers to the
// client (its callback bound once, when the exchange is made).
type exchange struct {
	req    http.Request
	url    url.URL
	header http.Header
	values [4]string // X-Forwarded-For, -Host, -Proto, User-Agent
	trace  httptrace.ClientTrace
	w      http.ResponseWriter

	mu   sync.Mutex
	done bool // RoundTrip returned: 1xx answers no longer reach w
}

// maxPooledFields bounds the header map of an exchange kept for reuse,
// so that one request with many fields does not pin a large map.
const maxPooledFields = 64

// newExchange returns an exchange for w, reused when one is free.
func (p *proxy) newExchange(w http.ResponseWriter) *exchange {
	x, _ := p.exchanges.Get().(*exchange)
	if x == nil {
		x = &exchange{header: make(http.Header)}
		x.trace.Got1xxResponse = x.got1xx
	}
	x.w = w
	return x
}

// release keeps x for another request when nothing can use it any more:
// the backend is an Upstream whose lean transport carried the request
// (res.Request is then the outgoing request itself, which the Upstream
// copies before handing it to any other transport). That transport
// writes the request and reads the answer's head in RoundTrip, and calls
// the trace only from there, so once RoundTrip has returned and the
// answer's body is closed, no goroutine holds the request, its header
// or the trace. Other transports (net/http's) may still write the
// request, or pass on a 1xx, after RoundTrip returns; their exchanges
// are left to the collector.
func (p *proxy) release(x *exchange, res *http.Response) {
	if _, ok := p.backend.(*Upstream); !ok || res.Request != &x.req || len(x.header) > maxPooledFields {
		return
	}
	clear(x.header)
	h := x.header
	*x = exchange{header: h, trace: httptrace.ClientTrace{Got1xxResponse: x.trace.Got1xxResponse}}
	p.exchanges.Put(x)
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == "CONNECT" || httpguts.HeaderValuesContainsToken(r.Header["Connection"], "upgrade") {
		p.upgrade.ServeHTTP(w, r)
		return
	}
	x := p.newExchange(w)
	out := p.outgoing(x, r)
	if out.Body != nil {
		// The transport may read the body after RoundTrip returns; closing
		// it here keeps it from reading once the handler has returned.
		defer out.Body.Close()
	}
	res, err := p.backend.RoundTrip(out)
	x.mu.Lock()
	x.done = true
	x.mu.Unlock()
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if res.StatusCode == http.StatusSwitchingProtocols {
		// The request asked for no upgrade (those go through p.upgrade).
		res.Body.Close()
		up := res.Header.Get("Upgrade")
		if !httpguts.HeaderValuesContainsToken(res.Header["Connection"], "upgrade") {
			up = ""
		}
		p.fail(w, r, fmt.Errorf("backend tried to switch protocol %q when %q was requested", up, ""))
		return
	}
	if _, ok := res.Header["Connection"]; ok {
		removeConnectionFields(res.Header)
	}
	h := w.Header()
	addHeader(h, res.Header, true)
	announced := len(res.Trailer)
	if announced > 0 {
		keys := make([]string, 0, announced)
		for k := range res.Trailer {
			keys = append(keys, k)
		}
		h.Add("Trailer", strings.Join(keys, ", "))
	}
	w.WriteHeader(res.StatusCode)
	var rc *http.ResponseController // made only for the answers that flush
	var fw *flushWriter
	var dst io.Writer = w
	if res.ContentLength == -1 || isEventStream(res.Header["Content-Type"]) {
		rc = http.NewResponseController(w)
		fw = newFlushWriter(w, rc)
		defer fw.stop()
		dst = fw
	}
	if err := p.copyBody(dst, res.Body); err != nil {
		res.Body.Close()
		if r.Context().Value(http.ServerContextKey) == nil {
			// Not under a server that recovers the abort (a test calling
			// the handler): stop here as ReverseProxy does.
			p.logger.Debug("backend answer cut short", "error", err)
			return
		}
		// The answer is incomplete and cannot be completed: abort it so
		// that the client sees it so.
		panic(http.ErrAbortHandler)
	}
	res.Body.Close() // fills res.Trailer
	p.release(x, res)
	if len(res.Trailer) == 0 {
		return
	}
	if fw != nil {
		// Its timer must not flush while the trailers are being added.
		fw.stop()
	}
	// Chunked coding, so that the server does not compute a length for a
	// short body and drop the trailers.
	if rc == nil {
		rc = http.NewResponseController(w)
	}
	_ = rc.Flush()
	h = w.Header() // a wrapper's map may have changed with WriteHeader
	if len(res.Trailer) == announced {
		addHeader(h, res.Trailer, false)
		return
	}
	for k, vv := range res.Trailer {
		k = http.TrailerPrefix + k
		for _, v := range vv {
			h.Add(k, v)
		}
	}
}

// outgoing fills x.req with the request to send for r and returns it.
func (p *proxy) outgoing(x *exchange, r *http.Request) *http.Request {
	ctx := httptrace.WithClientTrace(r.Context(), &x.trace)
	x.req = *r.WithContext(ctx)
	out := &x.req
	if r.URL != nil {
		x.url = *r.URL
	}
	x.url.RawQuery = cleanQuery(x.url.RawQuery)
	x.url.Scheme, x.url.Host = "http", p.host
	out.URL = &x.url
	out.Host = r.Host
	out.Close = false
	if r.ContentLength == 0 {
		out.Body = nil // a nil Body lets a transport send the request again
	}
	if r.Trailer != nil {
		// The server fills r.Trailer as the body ends; ReverseProxy sends
		// the copy it took before.
		out.Trailer = r.Trailer.Clone()
	}
	h := x.header
	for k, vv := range r.Header {
		if !hopField(k) && !forwardingField(k) {
			h[k] = vv // read-only: nothing appends to or edits a request's values
		}
	}
	if conn, ok := r.Header["Connection"]; ok {
		h["Connection"] = conn
		removeConnectionFields(h)
	}
	if httpguts.HeaderValuesContainsToken(r.Header["Te"], "trailers") {
		h["Te"] = []string{"trailers"}
	}
	if clientIP, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		if prior := r.Header["X-Forwarded-For"]; len(prior) > 0 {
			clientIP = strings.Join(prior, ", ") + ", " + clientIP
		}
		x.values[0] = clientIP
		h["X-Forwarded-For"] = x.values[0:1:1]
	}
	x.values[1] = r.Host
	h["X-Forwarded-Host"] = x.values[1:2:2]
	x.values[2] = "http"
	if r.TLS != nil {
		x.values[2] = "https"
	}
	h["X-Forwarded-Proto"] = x.values[2:3:3]
	if _, ok := h["User-Agent"]; !ok {
		h["User-Agent"] = x.values[3:4:4] // empty: no Go default
	}
	out.Header = h
	return out
}

// got1xx passes an informational answer to the client, until RoundTrip
// has returned.
func (x *exchange) got1xx(code int, header textproto.MIMEHeader) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.done {
		return nil
	}
	h := x.w.Header()
	addHeader(h, http.Header(header), false)
	x.w.WriteHeader(code)
	clear(h) // WriteHeader keeps the fields of a 1xx answer
	return nil
}

// copyBody copies the answer's body to w with a pooled buffer. It returns
// the first write error, or read error other than the end of the body.
func (p *proxy) copyBody(w io.Writer, body io.Reader) error {
	buf := p.buffers.Get()
	defer p.buffers.Put(buf)
	for {
		nr, rerr := body.Read(buf)
		if rerr != nil && rerr != io.EOF && rerr != context.Canceled {
			p.logger.Debug("backend answer read error", "error", rerr)
		}
		if nr > 0 {
			nw, werr := w.Write(buf[:nr])
			if werr != nil {
				return werr
			}
			if nw != nr {
				return io.ErrShortWrite
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

// flushWriter flushes an answer as it is written, and its header as soon
// as possible even when the body is slow to come: a timer that fires at
// once flushes it unless the copy is over, as ReverseProxy does for event
// streams and answers of unknown length. The timer's goroutine usually
// runs after the first body write, so that the server still sees the
// first bytes before sending the header (and sniffs a missing
// Content-Type from them), as it does behind ReverseProxy.
type flushWriter struct {
	mu      sync.Mutex
	w       io.Writer
	rc      *http.ResponseController
	pending bool // the header flush is still due
	t       *time.Timer
}

func newFlushWriter(w io.Writer, rc *http.ResponseController) *flushWriter {
	fw := &flushWriter{w: w, rc: rc, pending: true}
	fw.t = time.AfterFunc(0, fw.flushHeader)
	return fw
}

func (fw *flushWriter) Write(p []byte) (int, error) {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	n, err := fw.w.Write(p)
	_ = fw.rc.Flush()
	return n, err
}

func (fw *flushWriter) flushHeader() {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	if fw.pending {
		_ = fw.rc.Flush()
		fw.pending = false
	}
}

// stop ends the writer: no flush happens after it returns.
func (fw *flushWriter) stop() {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	fw.pending = false
	fw.t.Stop()
}

// addHeader adds src's fields to dst as http.Header.Add does, without
// the hop-by-hop fields of hopField when skipHop is set; a field dst
// lacks takes src's values, which the caller gives up.
func addHeader(dst, src http.Header, skipHop bool) {
	for k, vv := range src {
		if len(vv) == 0 || skipHop && hopField(k) {
			continue
		}
		k = textproto.CanonicalMIMEHeaderKey(k)
		if old, ok := dst[k]; ok {
			dst[k] = append(old, vv...)
			continue
		}
		dst[k] = vv[:len(vv):len(vv)]
	}
}

// hopField reports whether k is a hop-by-hop field that a proxy removes
// whether or not Connection names it (RFC 9110 section 7.6.1, and those
// of RFC 2616 section 13.5.1 that ReverseProxy still removes).
func hopField(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
		"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// forwardingField reports whether k is a forwarding field of the client,
// which the proxy replaces with its own.
func forwardingField(k string) bool {
	switch k {
	case "Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto":
		return true
	}
	return false
}

// removeConnectionFields removes the Connection field of h and the
// fields it names (RFC 9110 section 7.6.1).
func removeConnectionFields(h http.Header) {
	for tok := range connectionTokens(h["Connection"]) {
		delete(h, textproto.CanonicalMIMEHeaderKey(tok))
	}
	delete(h, "Connection")
}

// isEventStream reports whether the media type of a Content-Type is
// text/event-stream, as mime.ParseMediaType sees it. A value that does
// not hold those letters cannot be one, which spares the parse (and its
// allocations) for every other answer.
func isEventStream(ct []string) bool {
	if len(ct) == 0 || !containsFold(ct[0], "text/event-stream") {
		return false
	}
	base, _, _ := mime.ParseMediaType(ct[0])
	return base == "text/event-stream"
}

// containsFold reports whether s holds sub, compared with
// strings.EqualFold (which folds more than ASCII: a superset of what
// ParseMediaType's lowering matches).
func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}

// maxQueryParams is net/url's default bound on a query's parameters.
const maxQueryParams = 10000

// cleanQuery returns a query as ReverseProxy sends it: re-encoded (which
// drops what net/url cannot parse) when it holds a semicolon, a bad
// percent escape or too many parameters, else unchanged.
func cleanQuery(q string) string {
	bad := strings.Count(q, "&")+1 > maxQueryParams
	for i := 0; i < len(q) && !bad; {
		switch q[i] {
		case ';':
			bad = true
		case '%':
			if _, ok := escapeAt(q, i); !ok {
				bad = true
			}
			i += 3
		default:
			i++
		}
	}
	if !bad {
		return q
	}
	v, _ := url.ParseQuery(q)
	return v.Encode()
}

// proxyError is the failure handling of the proxies to a backendRef: a
// deadline becomes ErrTimeout, the attempt records the error (for
// retries), and the client is answered with the error's status unless it
// went away.
func proxyError(ref BackendRef, logger *slog.Logger) func(http.ResponseWriter, *http.Request, error) {
	name := ref.String()
	return func(w http.ResponseWriter, r *http.Request, err error) {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%w: %w", ErrTimeout, err)
		}
		if st := stateFrom(r.Context()); st != nil {
			st.attemptErr = err
		}
		if isCanceled(err) && r.Context().Err() != nil {
			return // the client went away; nobody to answer
		}
		logger.Debug("backend error", "backend", name, "error", err)
		writeError(w, err)
	}
}

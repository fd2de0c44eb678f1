package httproute

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/httproute/httproute/internal/h1"
)

// IdleConnTimeout is how long the transports that NewUpstream and
// NewTransport create keep an idle keep-alive connection to a backend
// before closing it. It is shorter than the idle timeouts of common
// servers (5s for Node.js, Apache httpd and uvicorn; 60s or more for
// nginx, Envoy and cloud load balancers), so that normally the proxy, not
// the backend, closes an idle connection, and a request seldom meets one
// that the backend has just closed. When one does (a backend with a
// shorter timeout, or one restarting), the request is sent again on a new
// connection if it can be: see UpstreamConfig.Transport.
const IdleConnTimeout = 4 * time.Second

// AppProtocol values of Service ports that an Upstream understands.
const (
	AppProtocolH2C = "kubernetes.io/h2c"
	AppProtocolWS  = "kubernetes.io/ws"
)

// Balancer is how an Upstream spreads requests over its endpoints.
type Balancer int

const (
	// LeastRequest picks two healthy endpoints at random and sends the
	// request to the one with fewer requests in flight ("power of two
	// choices"). It is the default, as in Envoy Gateway: it adapts to
	// endpoints of uneven speed at the cost of one random draw.
	LeastRequest Balancer = iota
	// RoundRobin sends requests to the healthy endpoints in turn.
	RoundRobin
)

// HealthConfig is an Upstream's passive health checking: an endpoint that
// fails too many requests in a row is ejected for a back-off period, then
// given traffic again. The zero value gives the defaults below.
type HealthConfig struct {
	// ConsecutiveConnectFailures ejects an endpoint after that many
	// requests in a row could not reach it (refused, reset, dial timeout).
	// 0 means 5; a negative value disables it.
	ConsecutiveConnectFailures int
	// Consecutive5xx ejects an endpoint after that many answers in a row
	// with a 5xx status. 0 (the default) disables it: a 5xx is often a
	// problem of the request, not of the endpoint.
	Consecutive5xx int
	// BaseEjection is how long the first ejection lasts; each further
	// ejection without a success in between doubles it, up to MaxEjection.
	// 0 means 30s.
	BaseEjection time.Duration
	// MaxEjection caps the ejection time. 0 means 300s.
	MaxEjection time.Duration
}

// UpstreamConfig describes a Service port served by network endpoints.
type UpstreamConfig struct {
	// Endpoints are "host:port" addresses or "http://host:port" URLs, or
	// "https://host:port" for TLS (with a Transport whose TLS configuration
	// verifies the endpoints; the default one uses the system roots).
	Endpoints []string
	// AppProtocol is the Service port's appProtocol: "" or "http" for
	// HTTP/1.1, AppProtocolH2C for HTTP/2 over cleartext with prior
	// knowledge, AppProtocolWS for WebSocket (served as HTTP/1.1 with
	// upgrades, which every protocol but h2c supports anyway).
	AppProtocol string
	// Transport carries the requests. Nil gives the Upstream transports
	// of its own. For HTTP/1.1 (appProtocol "", "http" or AppProtocolWS)
	// that is a lean HTTP/1.1 transport: the request's own goroutine
	// writes it and reads the answer on a pooled connection, and answers
	// are parsed strictly (RFC 9112; a malformed answer gives 502).
	// Protocol upgrades (WebSocket) go through NewTransport(false), and
	// h2c through NewTransport(true). Idle connections are closed after
	// IdleConnTimeout. When a pooled connection turns out to have been
	// closed by the backend, the lean transport checks idle connections
	// before use and sends the request again on a new connection when the
	// request has no body or a body of known length up to RetryBodyLimit
	// (which it reads before sending), or one GetBody recreates.
	Transport http.RoundTripper
	// Balancer chooses among endpoints; the zero value is LeastRequest.
	Balancer Balancer
	// Health configures passive health checking.
	Health HealthConfig
}

// Upstream is a Backend that proxies to network endpoints: it balances
// requests across the healthy ones, ejects endpoints that keep failing,
// and answers 503 (ErrNoEndpoint) when none is healthy. Its endpoints can
// be replaced at any time with SetEndpoints, without rebuilding routes.
//
// Inside a Router it uses the Router's clock and random source; used on its
// own, the real clock and the runtime's generator.
type Upstream struct {
	// lean carries the HTTP/1.1 requests it supports when the Upstream
	// has its own transports; transport carries the others.
	lean      *h1.Transport
	transport http.RoundTripper
	balancer  Balancer
	health    HealthConfig
	endpoints atomic.Pointer[[]*endpoint]
	mu        sync.Mutex // serializes SetEndpoints
	next      atomic.Uint64
}

// endpoint is one address of an Upstream with its health state.
type endpoint struct {
	url          *url.URL
	id           string       // opaque id for session values
	active       atomic.Int64 // requests in flight
	connFailures atomic.Int32 // consecutive
	fails5xx     atomic.Int32 // consecutive
	ejections    atomic.Int32 // consecutive ejections without a success
	ejectedUntil atomic.Int64 // unix nanoseconds; 0 when healthy
}

// NewUpstream returns an Upstream for cfg. It fails when an endpoint is not
// a valid address or the appProtocol is not supported; the error wraps
// ErrUnsupported in the latter case.
func NewUpstream(cfg UpstreamConfig) (*Upstream, error) {
	u := &Upstream{transport: cfg.Transport, balancer: cfg.Balancer, health: cfg.Health}
	if u.health.ConsecutiveConnectFailures == 0 {
		u.health.ConsecutiveConnectFailures = 5
	}
	if u.health.BaseEjection <= 0 {
		u.health.BaseEjection = 30 * time.Second
	}
	if u.health.MaxEjection <= 0 {
		u.health.MaxEjection = 300 * time.Second
	}
	if u.transport == nil {
		switch cfg.AppProtocol {
		case "", "http", "HTTP", AppProtocolWS:
			u.lean = h1.New(h1.Options{IdleTimeout: IdleConnTimeout, MaxReplayBody: RetryBodyLimit})
			u.transport = NewTransport(false)
		case AppProtocolH2C:
			u.transport = NewTransport(true)
		default:
			return nil, fmt.Errorf("appProtocol %q: %w", cfg.AppProtocol, ErrUnsupported)
		}
	}
	if err := u.SetEndpoints(cfg.Endpoints); err != nil {
		return nil, err
	}
	return u, nil
}

// SetEndpoints replaces the endpoints. Endpoints that stay keep their
// health state; requests in flight keep the endpoint they were sent to. An
// empty list makes the Upstream answer 503.
func (u *Upstream) SetEndpoints(endpoints []string) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	old := map[string]*endpoint{}
	if cur := u.endpoints.Load(); cur != nil {
		for _, ep := range *cur {
			old[ep.url.Host] = ep
		}
	}
	eps := make([]*endpoint, 0, len(endpoints))
	for _, e := range endpoints {
		parsed, err := parseEndpoint(e)
		if err != nil {
			return err
		}
		if ep := old[parsed.Host]; ep != nil {
			eps = append(eps, ep)
			continue
		}
		eps = append(eps, &endpoint{url: parsed, id: endpointID(parsed.Host)})
	}
	u.endpoints.Store(&eps)
	return nil
}

// Endpoints returns the addresses of the endpoints and whether each is
// healthy (not ejected) now.
func (u *Upstream) Endpoints() map[string]bool {
	now := time.Now().UnixNano()
	out := map[string]bool{}
	for _, ep := range *u.endpoints.Load() {
		out[ep.url.Host] = ep.healthy(now)
	}
	return out
}

func parseEndpoint(e string) (*url.URL, error) {
	if !strings.Contains(e, "://") {
		e = "http://" + e
	}
	u, err := url.Parse(e)
	if err != nil {
		return nil, fmt.Errorf("endpoint %q: %w", e, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("endpoint %q: want host:port, http://host:port or https://host:port", e)
	}
	if _, _, err := net.SplitHostPort(u.Host); err != nil {
		return nil, fmt.Errorf("endpoint %q: %w", e, err)
	}
	return u, nil
}

func (ep *endpoint) healthy(now int64) bool {
	until := ep.ejectedUntil.Load()
	return until == 0 || now >= until
}

// RoundTrip sends the request to an endpoint chosen by the balancer, or to
// the endpoint a session pins when it is healthy, and records the outcome
// for passive health checking.
func (u *Upstream) RoundTrip(r *http.Request) (*http.Response, error) {
	return u.roundTrip(r, u.transport, "")
}

// roundTrip is RoundTrip through transport t, to the endpoints' scheme or
// to scheme when it is set: a Service port that a BackendTLSPolicy covers
// is the same endpoints dialed over TLS (backendtlspolicy.go).
func (u *Upstream) roundTrip(r *http.Request, t http.RoundTripper, scheme string) (*http.Response, error) {
	st := stateFrom(r.Context())
	now, rnd := time.Now, runtimeSource{}.Uint64
	if st != nil && st.env != nil {
		now, rnd = st.env.now, st.env.rand.Uint64
	}
	ep := u.pick(now().UnixNano(), rnd, st)
	if ep == nil {
		return nil, ErrNoEndpoint
	}
	if st != nil {
		st.endpoint = ep.id
	}
	ep.active.Add(1)
	defer ep.active.Add(-1)
	res, err := u.send(r, ep, t, scheme)
	if err != nil {
		err = classifyTransportError(err)
		if errors.Is(err, ErrNoEndpoint) || isConnReset(err) {
			u.failed(st, ep, now, &ep.connFailures, u.health.ConsecutiveConnectFailures, EjectConnectFailures)
		}
		return nil, err
	}
	if res.StatusCode >= 500 {
		u.failed(st, ep, now, &ep.fails5xx, u.health.Consecutive5xx, Eject5xx)
	} else {
		ep.succeeded()
	}
	return res, nil
}

// succeeded resets the failure counts of the endpoint after a success.
// They are nearly always zero already: looking before storing spares
// every request three locked writes to memory that the other cores
// running requests to the same endpoint share.
func (ep *endpoint) succeeded() {
	for _, c := range [...]*atomic.Int32{&ep.connFailures, &ep.fails5xx, &ep.ejections} {
		if c.Load() != 0 {
			c.Store(0)
		}
	}
}

// send carries the request to the endpoint: over the lean transport for
// a cleartext endpoint (unless the request needs what only net/http's
// does), else through t, with the URL's scheme replaced by scheme when it
// is set (TLS from a BackendTLSPolicy).
func (u *Upstream) send(r *http.Request, ep *endpoint, t http.RoundTripper, scheme string) (*http.Response, error) {
	if u.lean != nil && scheme == "" && ep.url.Scheme == "http" { // TLS endpoints keep net/http's transport
		res, err := u.lean.Do(r, ep.url.Host)
		if !errors.Is(err, h1.ErrUnsupported) {
			return res, err
		}
	}
	// A RoundTripper must not modify the request it is given: send a copy
	// addressed to the endpoint.
	out := new(http.Request)
	*out = *r
	u2 := *r.URL
	u2.Scheme, u2.Host = ep.url.Scheme, ep.url.Host
	if scheme != "" {
		u2.Scheme = scheme
	}
	out.URL = &u2
	return t.RoundTrip(out)
}

// failed counts one failure of a kind and ejects the endpoint when the
// count reaches limit (limit <= 0 disables that kind), telling the
// observer of the Router whose request st is (nil outside a Router).
func (u *Upstream) failed(st *requestState, ep *endpoint, now func() time.Time, counter *atomic.Int32, limit int, reason string) {
	if limit <= 0 {
		return
	}
	if counter.Add(1) < int32(limit) {
		return
	}
	counter.Store(0)
	d := ejectionTime(u.health.BaseEjection, u.health.MaxEjection, ep.ejections.Add(1))
	ep.ejectedUntil.Store(satAddUnixNano(now(), d))
	observeEjection(st, Ejection{Endpoint: ep.url.Host, Duration: d, Reason: reason})
}

// ejectionTime is how long the n-th ejection in a row lasts: base,
// doubled for each ejection before it, capped at maxEj, saturating
// whatever the durations a host configures.
func ejectionTime(base, maxEj time.Duration, n int32) time.Duration {
	d := min(base, maxEj)
	for i := int32(1); i < n && d < maxEj; i++ {
		if d > maxEj/2 {
			return maxEj
		}
		d *= 2
	}
	return d
}

// satAddUnixNano returns t+d in unix nanoseconds, saturating instead of
// overflowing (d >= 0).
func satAddUnixNano(t time.Time, d time.Duration) int64 {
	ns := t.UnixNano()
	if ns > math.MaxInt64-int64(d) {
		return math.MaxInt64
	}
	return ns + int64(d)
}

// pick chooses a healthy endpoint: the session's pinned endpoint when it
// is healthy, else one by the balancer. It returns nil when none is
// healthy.
func (u *Upstream) pick(now int64, rnd func() uint64, st *requestState) *endpoint {
	eps := *u.endpoints.Load()
	if st != nil && st.pin != "" {
		for _, ep := range eps {
			if ep.id == st.pin && ep.healthy(now) {
				return ep
			}
		}
	}
	if st != nil && st.avoid != "" && len(eps) > 1 {
		// A retry goes to another healthy endpoint when there is one.
		for tries := 0; tries < 3; tries++ {
			if ep := u.pickAny(now, rnd, eps); ep == nil || ep.id != st.avoid {
				return ep
			}
		}
	}
	return u.pickAny(now, rnd, eps)
}

// pickAny chooses a healthy endpoint by the balancer, nil when none is.
func (u *Upstream) pickAny(now int64, rnd func() uint64, eps []*endpoint) *endpoint {
	n := len(eps)
	switch {
	case n <= 1:
		return firstHealthy(eps, 0, now)
	case u.balancer == RoundRobin:
		return firstHealthy(eps, int((u.next.Add(1)-1)%uint64(n)), now)
	}
	// Power of two choices: two distinct endpoints at random, the one
	// with fewer requests in flight wins; ejected ones are skipped.
	i := int(rnd() % uint64(n))
	j := int(rnd() % uint64(n-1))
	if j >= i {
		j++
	}
	a, b := eps[i], eps[j]
	switch ah, bh := a.healthy(now), b.healthy(now); {
	case ah && bh:
		if b.active.Load() < a.active.Load() {
			return b
		}
		return a
	case ah:
		return a
	case bh:
		return b
	}
	return firstHealthy(eps, i, now)
}

// firstHealthy returns the first healthy endpoint from index start on,
// wrapping around, or nil when none is healthy.
func firstHealthy(eps []*endpoint, start int, now int64) *endpoint {
	for k := range eps {
		if ep := eps[(start+k)%len(eps)]; ep.healthy(now) {
			return ep
		}
	}
	return nil
}

// classifyTransportError marks errors that happened before the backend was
// reached as ErrNoEndpoint (503), leaving others as backend errors (502).
func classifyTransportError(err error) error {
	var op *net.OpError
	if errors.Is(err, syscall.ECONNREFUSED) || (errors.As(err, &op) && op.Op == "dial") {
		return fmt.Errorf("%w: %w", ErrNoEndpoint, err)
	}
	return err
}

// isConnReset reports whether err is a connection reset or closed by the
// peer before an answer.
func isConnReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || strings.Contains(err.Error(), "EOF")
}

// CloseIdleConnections closes the idle keep-alive connections of the
// Upstream's transports, when they support it.
func (u *Upstream) CloseIdleConnections() {
	if u.lean != nil {
		u.lean.CloseIdleConnections()
	}
	closeIdle(u.transport)
}

// closeIdle closes the idle connections of t when it can.
func closeIdle(t http.RoundTripper) {
	if c, ok := t.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

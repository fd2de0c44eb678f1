package httproute

import (
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
)

// Limits are a backend's circuit breakers, as Envoy Gateway and kgateway
// offer them by policy: beyond them the Router answers 503 at once instead
// of piling more load on a backend that cannot keep up.
type Limits struct {
	// MaxRequests caps the requests in flight to the backend, counted
	// from the moment a request is sent until its answer's body is
	// closed. 0 means no limit.
	MaxRequests int
	// MaxRetries caps the retries in flight to the backend (a retry
	// counts from the failed attempt to the end of the retry). A retry
	// beyond it is not made: the client gets the failed attempt's answer.
	// 0 means no limit.
	MaxRetries int
}

// Limit returns b with circuit breakers. Share one limited Backend
// between rules to share its limits. Limit of an InProcess Backend is
// still served in process.
func Limit(b Backend, l Limits) Backend {
	lb := &limitedBackend{inner: b, lim: &limiter{limits: l}}
	if h, ok := inProcessHandler(b); ok {
		return &limitedHandler{limitedBackend: lb, h: h}
	}
	return lb
}

type limiter struct {
	limits  Limits
	active  atomic.Int64
	retries atomic.Int64
}

func (l *limiter) acquire(counter *atomic.Int64, max int) bool {
	if max <= 0 {
		counter.Add(1)
		return true
	}
	if counter.Add(1) > int64(max) {
		counter.Add(-1)
		return false
	}
	return true
}

type limitedBackend struct {
	inner Backend
	lim   *limiter
}

// errOverloaded is the answer of a backend whose limit is reached.
var errOverloaded = fmt.Errorf("%w: backend circuit breaker open", ErrNoEndpoint)

func (b *limitedBackend) RoundTrip(r *http.Request) (*http.Response, error) {
	if !b.lim.acquire(&b.lim.active, b.lim.limits.MaxRequests) {
		return nil, errOverloaded
	}
	res, err := b.inner.RoundTrip(r)
	if err != nil {
		b.lim.active.Add(-1)
		return nil, err
	}
	release := func() { b.lim.active.Add(-1) }
	if rw, ok := res.Body.(io.ReadWriteCloser); ok {
		// An upgraded connection (101) must stay writable for the proxy.
		res.Body = &releaseRWBody{releaseBody{ReadCloser: rw, release: release}, rw}
	} else {
		res.Body = &releaseBody{ReadCloser: res.Body, release: release}
	}
	return res, nil
}

func (b *limitedBackend) acquireRetry() (func(), bool) {
	if !b.lim.acquire(&b.lim.retries, b.lim.limits.MaxRetries) {
		return nil, false
	}
	var once sync.Once
	return func() { once.Do(func() { b.lim.retries.Add(-1) }) }, true
}

type limitedHandler struct {
	*limitedBackend
	h http.Handler
}

func (b *limitedHandler) inProcess() http.Handler { return b }

func (b *limitedHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !b.lim.acquire(&b.lim.active, b.lim.limits.MaxRequests) {
		if st := stateFrom(r.Context()); st != nil {
			st.attemptErr = errOverloaded
		}
		writeError(w, errOverloaded)
		return
	}
	defer b.lim.active.Add(-1)
	b.h.ServeHTTP(w, r)
}

// releaseBody calls release once when the body is closed.
type releaseBody struct {
	io.ReadCloser
	once    sync.Once
	release func()
}

func (b *releaseBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.release)
	return err
}

type releaseRWBody struct {
	releaseBody
	w io.Writer
}

func (b *releaseRWBody) Write(p []byte) (int, error) { return b.w.Write(p) }

// acquireRetry takes a retry slot of b's circuit breaker; backends without
// limits always grant one.
func acquireRetry(b Backend) (func(), bool) {
	if lb, ok := b.(interface{ acquireRetry() (func(), bool) }); ok {
		return lb.acquireRetry()
	}
	return func() {}, true
}

// RetryBudget limits the retries in flight to one backend relative to its
// load, in Envoy's terms: retries may be at most Percent of the requests
// in flight to the backend, and MinConcurrency retries are always allowed.
// It keeps a failing backend from being flooded by retries when many
// requests fail at once. The zero value is Envoy's default: 20% with a
// minimum of 3. The requests counted are those served under a retry
// stanza (the only ones that can retry).
type RetryBudget struct {
	// Percent of the requests in flight that may be retries, 0 meaning
	// 20; a negative value disables the budget.
	Percent float64
	// MinConcurrency is the number of retries in flight always allowed,
	// 0 meaning 3.
	MinConcurrency int
}

// retryBudget is one backend's retry budget for one table.
type retryBudget struct {
	percent float64 // negative: disabled
	min     int64
	active  atomic.Int64 // requests in flight under a retry stanza
	retries atomic.Int64 // retries in flight
}

func newRetryBudget(cfg RetryBudget) *retryBudget {
	b := &retryBudget{percent: cfg.Percent, min: int64(cfg.MinConcurrency)}
	if b.percent == 0 {
		b.percent = 20
	}
	if b.min <= 0 {
		b.min = 3
	}
	return b
}

// acquire reserves a retry, reporting false when the budget is spent. A
// nil budget allows every retry.
func (b *retryBudget) acquire() bool {
	if b == nil || b.percent < 0 {
		return true
	}
	allowed := max(b.min, int64(float64(b.active.Load())*b.percent/100))
	if b.retries.Add(1) > allowed {
		b.retries.Add(-1)
		return false
	}
	return true
}

func (b *retryBudget) release() {
	if b != nil && b.percent >= 0 {
		b.retries.Add(-1)
	}
}

// begin and end count a request in flight to the backend.
func (b *retryBudget) begin() {
	if b != nil {
		b.active.Add(1)
	}
}

func (b *retryBudget) end() {
	if b != nil {
		b.active.Add(-1)
	}
}

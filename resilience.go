package httproute

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/httproute/httproute/internal/duration"
)

// Defaults and limits of the resilience policies. They are what an Envoy
// Gateway user would expect where the spec leaves the choice open.
const (
	// DefaultRetryAttempts is the number of retries when a retry stanza
	// does not set attempts (the CRD's default since Gateway API v1.7).
	DefaultRetryAttempts = 1
	// DefaultRetryBackoff is the minimum wait between attempts when a
	// retry stanza does not set backoff (Envoy's base interval).
	DefaultRetryBackoff = 25 * time.Millisecond
	// MaxBackoffFactor caps the exponential growth of the wait between
	// attempts: attempt n waits between backoff and min(backoff*2^n,
	// backoff*MaxBackoffFactor), never less than backoff.
	MaxBackoffFactor = 10
	// RetryBodyLimit is the largest request body kept to replay on a
	// retry. A request whose body is larger is sent once, never retried.
	RetryBodyLimit = 64 << 10
	// MaxRetryAfter is the longest Retry-After a retry waits for; a
	// backend asking for longer gets its answer passed to the client.
	MaxRetryAfter = 10 * time.Second
	// MaxRetryBackoff caps the wait between two attempts, whatever the
	// backoff asks for (the spec lets implementations cap it; this cap is
	// never below a backoff of up to 30 seconds).
	MaxRetryBackoff = 5 * time.Minute
	// DefaultMaxRetryAttempts is the most retries one request makes when
	// Config.MaxRetryAttempts is 0, whatever a rule asks for: a rule that
	// asks for more is served with this many and says so in its status.
	DefaultMaxRetryAttempts = 10
)

// resilience is the compiled timeouts, retry and session policies of a
// rule.
type resilience struct {
	// request bounds the whole transaction, 0 for none.
	request time.Duration
	// backendRequest bounds each attempt at a backend, 0 for none.
	backendRequest time.Duration
	retry          *retryPolicy
	session        *sessionPolicy
}

// retryPolicy is a compiled HTTPRouteRetry.
type retryPolicy struct {
	codes    [200]bool // 400..599
	attempts int
	backoff  time.Duration
}

func (p *retryPolicy) retriesCode(code int) bool {
	return code >= 400 && code < 600 && p.codes[code-400]
}

// delay is the wait before retry number n (0 for the first retry):
// uniformly random in [backoff, min(backoff*2^n, backoff*MaxBackoffFactor,
// MaxRetryBackoff)]. All arithmetic saturates: no backoff or attempt
// number can overflow it into a negative or panicking draw.
func (p *retryPolicy) delay(n int, rnd *rand.Rand) time.Duration {
	base := min(p.backoff, MaxRetryBackoff)
	if base <= 0 {
		return 0
	}
	limit := min(satMul(base, MaxBackoffFactor), MaxRetryBackoff)
	ceil := base
	for i := 0; i < n && ceil < limit; i++ {
		ceil = satMul(ceil, 2)
	}
	ceil = min(ceil, limit)
	if ceil <= base {
		return base
	}
	return base + time.Duration(rnd.Int64N(int64(ceil-base)+1))
}

// satMul returns d*k, saturating at the largest Duration (d, k >= 0).
func satMul(d time.Duration, k int64) time.Duration {
	if d <= 0 || k <= 0 {
		return 0
	}
	if d > math.MaxInt64/time.Duration(k) {
		return math.MaxInt64
	}
	return d * time.Duration(k)
}

// wait decides the wait before retry number n: the back-off delay, or the
// backend's Retry-After when it asks for longer. ok is false when no
// retry should be made: Retry-After asks for more than MaxRetryAfter, or
// the request's remaining budget does not cover the wait. The wait is
// never negative and never more than max(MaxRetryAfter, MaxRetryBackoff).
func (p *retryPolicy) wait(n int, retryAfterValue string, now time.Time, remaining time.Duration, rnd *rand.Rand) (d time.Duration, ok bool) {
	d = p.delay(n, rnd)
	if retryAfterValue != "" {
		ra, valid := parseRetryAfter(retryAfterValue, now)
		if valid {
			if ra > MaxRetryAfter {
				return 0, false // the backend asks for longer than a retry may wait
			}
			d = max(d, ra)
		}
	}
	if remaining <= d {
		return 0, false // no budget left to wait and retry
	}
	return d, true
}

func (rc *ruleCompiler) resilience() (*resilience, *Error) {
	res := &resilience{}
	path := rc.path
	bad := func(fe *field.Error) (*resilience, *Error) {
		return nil, rc.c.routeError(rc.route, reasonUnsupportedValue, fe)
	}
	if t := rc.spec.Timeouts; t != nil {
		tp := path.Child("timeouts")
		if t.Request != nil {
			d, err := duration.Parse(string(*t.Request))
			if err != nil {
				return bad(field.Invalid(tp.Child("request"), *t.Request, err.Error()))
			}
			res.request = d
		}
		if t.BackendRequest != nil {
			d, err := duration.Parse(string(*t.BackendRequest))
			if err != nil {
				return bad(field.Invalid(tp.Child("backendRequest"), *t.BackendRequest, err.Error()))
			}
			res.backendRequest = d
		}
		if res.request != 0 && res.backendRequest > res.request {
			return bad(field.Invalid(tp, string(*t.BackendRequest), "backendRequest timeout cannot be longer than request timeout"))
		}
	}
	if rt := rc.spec.Retry; rt != nil {
		rp := path.Child("retry")
		p := &retryPolicy{attempts: DefaultRetryAttempts, backoff: DefaultRetryBackoff}
		for i, code := range rt.Codes {
			if code < 400 || code > 599 {
				return bad(field.Invalid(rp.Child("codes").Index(i), code, "must be between 400 and 599"))
			}
			p.codes[code-400] = true
		}
		if rt.Attempts != nil {
			if *rt.Attempts < 0 {
				return bad(field.Invalid(rp.Child("attempts"), *rt.Attempts, "should be greater than or equal to 0"))
			}
			p.attempts = *rt.Attempts
			if limit := rc.c.maxRetryAttempts(); p.attempts > limit {
				rc.warn(fmt.Sprintf("%s: %d retries asked for, %d made (the Router's cap per request)", rp.Child("attempts"), p.attempts, limit))
				p.attempts = limit
			}
		}
		if rt.Backoff != nil {
			d, err := duration.Parse(string(*rt.Backoff))
			if err != nil {
				return bad(field.Invalid(rp.Child("backoff"), *rt.Backoff, err.Error()))
			}
			p.backoff = d
			if d > MaxRetryBackoff {
				rc.warn(fmt.Sprintf("%s: waits are capped at %s", rp.Child("backoff"), MaxRetryBackoff))
			}
		}
		res.retry = p
	}
	if sp := rc.spec.SessionPersistence; sp != nil {
		p, fe := rc.compileSession(sp, path.Child("sessionPersistence"))
		if fe != nil {
			return bad(fe)
		}
		res.session = p
	}
	return res, nil
}

// wrapRequest bounds the whole handling of a request, retries included, by
// the request timeout.
func (res *resilience) wrapRequest(h http.Handler) http.Handler {
	if res.request <= 0 {
		return h
	}
	return &timeoutHandler{h: h, d: res.request}
}

// timeoutHandler answers 504 when its deadline passes before the handler
// has answered, even if the handler ignores its context. A handler that
// has started answering is cut off with the connection when the deadline
// passes (its context is canceled), as a proxy cuts a stream.
type timeoutHandler struct {
	h http.Handler
	d time.Duration
}

func (t *timeoutHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), t.d)
	defer cancel()
	tw := &timeoutWriter{w: w, h: make(http.Header)}
	stop := context.AfterFunc(ctx, func() {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			tw.timeout()
		}
	})
	defer stop()
	t.h.ServeHTTP(tw, r.WithContext(ctx))
	tw.finish(errors.Is(ctx.Err(), context.DeadlineExceeded))
	// finish has synchronized with the timer: timedOut is final.
	if tw.timedOut {
		if st := stateFrom(r.Context()); st != nil && st.obs != nil {
			st.obs.timedOut = true
		}
	}
}

// timeoutWriter serializes the handler's writes with the timer's 504. Until
// the answer starts, the handler's headers are kept apart from the real
// writer's, which the timer may use; from then on Header is the real
// writer's map, so that trailers set after the body are sent.
type timeoutWriter struct {
	mu       sync.Mutex
	w        http.ResponseWriter
	h        http.Header
	wrote    bool
	timedOut bool
	done     bool // the handler returned: the timer must not write
}

func (tw *timeoutWriter) Header() http.Header {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if tw.wrote {
		return tw.w.Header()
	}
	return tw.h
}

func (tw *timeoutWriter) WriteHeader(code int) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	tw.writeHeaderLocked(code)
}

func (tw *timeoutWriter) writeHeaderLocked(code int) {
	if tw.timedOut || (tw.wrote && code >= 200) {
		return
	}
	dst := tw.w.Header()
	for k, v := range tw.h {
		dst[k] = v
	}
	if code >= 200 || code == http.StatusSwitchingProtocols {
		tw.wrote = true
	}
	tw.w.WriteHeader(code)
}

func (tw *timeoutWriter) Write(p []byte) (int, error) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if tw.timedOut {
		return 0, http.ErrHandlerTimeout
	}
	if !tw.wrote {
		tw.writeHeaderLocked(http.StatusOK)
	}
	return tw.w.Write(p)
}

func (tw *timeoutWriter) Flush() {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if tw.timedOut {
		return
	}
	if !tw.wrote {
		tw.writeHeaderLocked(http.StatusOK)
	}
	_ = http.NewResponseController(tw.w).Flush()
}

// Unwrap gives access to the real writer (Hijack for upgrades) once the
// answer has started; before, the timer may still answer.
func (tw *timeoutWriter) Unwrap() http.ResponseWriter {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if tw.wrote {
		return tw.w
	}
	return nil
}

// finish runs when the handler returns: a handler that wrote nothing gets
// the implicit 200 with its headers, or 504 when its deadline has passed,
// and the timer may no longer write.
func (tw *timeoutWriter) finish(expired bool) {
	if expired {
		tw.timeout()
	}
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if !tw.wrote && !tw.timedOut {
		tw.writeHeaderLocked(http.StatusOK)
	}
	tw.done = true
}

// timeout answers 504 unless an answer has started or the handler is done.
func (tw *timeoutWriter) timeout() {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	tw.timeoutLocked()
}

func (tw *timeoutWriter) timeoutLocked() {
	if tw.wrote || tw.timedOut || tw.done {
		return
	}
	tw.timedOut = true
	body := http.StatusText(http.StatusGatewayTimeout) + "\n"
	h := tw.w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	tw.w.WriteHeader(http.StatusGatewayTimeout)
	_, _ = io.WriteString(tw.w, body)
	_ = http.NewResponseController(tw.w).Flush()
}

// dispatcher serves the backend half of a rule: the weighted choice (or
// the session's backendRef), the per-attempt timeout and the retries.
type dispatcher struct {
	split          *split
	entries        []*backendEntry
	backendTimeout time.Duration
	retry          *retryPolicy
	session        *sessionPolicy
	// anySession reports whether the rule or one of its backends has a
	// session policy.
	anySession bool
	// direct reports whether the rule has no filters nor request timeout:
	// the dispatcher is what serves a request once it is matched.
	direct bool
	env    *env
}

// sessionFor returns the session policy that applies to requests sent to
// entry and the backendRef index its pins are kept under: the backend
// object's own policy (the attachment point Gateway API v1.7 prefers, one
// backend per policy) or else the rule's (route-inline, deprecated but
// served).
func (d *dispatcher) sessionFor(entry *backendEntry) (*sessionPolicy, int) {
	if entry.session != nil {
		return entry.session, 0
	}
	return d.session, entry.index
}

func (d *dispatcher) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	st := stateFrom(r.Context())
	entry := d.split.choose()
	if entry == nil {
		writeError(w, fmt.Errorf("%w: every backendRef has weight 0", ErrInvalidRule))
		return
	}
	if (d.retry == nil || d.retry.attempts == 0) && !d.anySession {
		if st != nil && st.obs != nil {
			r = st.obs.beginAttempt(r, entry, d.direct)
			d.attempt(w, r, entry)
			st.obs.endAttempt(entry.backend, false, true)
			return
		}
		d.attempt(w, r, entry)
		return
	}
	d.serveWithPolicies(w, r, st, entry)
}

// attempt serves one attempt at a backend, bounded by the backendRequest
// timeout.
func (d *dispatcher) attempt(w http.ResponseWriter, r *http.Request, entry *backendEntry) {
	if d.backendTimeout <= 0 {
		entry.handler.ServeHTTP(w, r)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), d.backendTimeout)
	defer cancel()
	d.serveAttempt(w, r.WithContext(ctx), entry)
}

// serveAttempt serves one attempt at entry's backend. Under a
// backendRequest timeout, an in-process backend (an http.Handler) runs in
// a goroutine of its own (boundedAttempt), so that its attempt fails as a
// timeout when the deadline passes, as a proxied attempt does, whether or
// not the handler honours its context.
func (d *dispatcher) serveAttempt(w http.ResponseWriter, r *http.Request, entry *backendEntry) {
	if _, inProcess := inProcessHandler(entry.backend); d.backendTimeout > 0 && inProcess {
		boundedAttempt(w, r, entry)
		return
	}
	entry.handler.ServeHTTP(w, r)
}

// errAttemptTimeout is the failure of an attempt that outlived its
// backendRequest timeout.
var errAttemptTimeout = fmt.Errorf("%w: backendRequest timeout", ErrTimeout)

// boundedAttempt runs entry's handler in its own goroutine until it
// returns or r's context is done, whichever comes first. When the deadline
// passes before the handler has answered, the attempt answers 504 (which a
// retry stanza listing 504 retries); when the answer has started, it is
// cut off as a proxy cuts a stream. From the deadline on, the handler can
// no longer write, whether it goes on or returns. It works on a copy of
// the request state, so that it never races with the attempts that
// follow.
func boundedAttempt(w http.ResponseWriter, r *http.Request, entry *backendEntry) {
	ctx := r.Context()
	bctx := &stateContext{Context: ctx}
	st := stateFrom(ctx)
	if st != nil {
		st.backend = &entry.choice
		bctx.st = *st
	}
	bw := &boundedWriter{w: w, h: make(http.Header), ctx: ctx}
	done := make(chan any, 1)
	go func() {
		defer func() { done <- recover() }()
		entry.handler.ServeHTTP(bw, r.WithContext(bctx))
	}()
	finished := false
	select {
	case p := <-done:
		if p != nil {
			panic(p)
		}
		if bw.finish() {
			return
		}
		finished = true // but too late: its answer was refused
	case <-ctx.Done():
	}
	switch bw.detach() {
	case attemptHijacked:
		// The connection is the handler's: wait for it.
		if !finished {
			if p := <-done; p != nil {
				panic(p)
			}
		}
	case attemptStarted:
		if ctx.Value(http.ServerContextKey) != nil {
			// Abort the answer so that the client sees it incomplete,
			// as httputil.ReverseProxy does.
			panic(http.ErrAbortHandler)
		}
	default:
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return // the client went away: nobody to answer
		}
		if st != nil {
			st.attemptErr = errAttemptTimeout
		}
		writeError(w, errAttemptTimeout)
	}
}

// attemptState is how far a bounded attempt's answer got.
type attemptState uint8

const (
	attemptPending  attemptState = iota // nothing written
	attemptStarted                      // the status is written
	attemptHijacked                     // the handler took the connection
)

// boundedWriter is the ResponseWriter of a bounded attempt. Until its
// context is done, it writes through to w; after, the handler's writes
// fail. The handler's header map stays its own, copied to w's when the
// answer starts and when the handler returns in time (for trailers), so
// that a late handler never touches w's.
type boundedWriter struct {
	mu    sync.Mutex
	w     http.ResponseWriter
	h     http.Header
	ctx   context.Context
	state attemptState
	// closed is set once the deadline has passed (or the attempt is
	// over): nothing more reaches w; cut records that a write was refused.
	closed bool
	cut    bool
}

// closedLocked reports whether the handler may no longer write.
func (bw *boundedWriter) closedLocked() bool {
	if !bw.closed && bw.ctx.Err() != nil {
		bw.closed = true
	}
	return bw.closed
}

func (bw *boundedWriter) Header() http.Header { return bw.h }

func (bw *boundedWriter) WriteHeader(code int) {
	bw.mu.Lock()
	defer bw.mu.Unlock()
	bw.writeHeaderLocked(code)
}

func (bw *boundedWriter) writeHeaderLocked(code int) bool {
	if bw.state != attemptPending {
		return true
	}
	if bw.closedLocked() {
		return false
	}
	copyHeader(bw.w.Header(), bw.h)
	if code >= 200 || code == http.StatusSwitchingProtocols {
		bw.state = attemptStarted
	}
	bw.w.WriteHeader(code)
	return true
}

func (bw *boundedWriter) Write(p []byte) (int, error) {
	bw.mu.Lock()
	defer bw.mu.Unlock()
	if !bw.writeHeaderLocked(http.StatusOK) || bw.closedLocked() {
		bw.cut = bw.state == attemptStarted
		return 0, errAttemptTimeout
	}
	return bw.w.Write(p)
}

func (bw *boundedWriter) Flush() {
	bw.mu.Lock()
	defer bw.mu.Unlock()
	if bw.writeHeaderLocked(http.StatusOK) && !bw.closedLocked() {
		_ = http.NewResponseController(bw.w).Flush()
	}
}

// Hijack hands the connection over; the attempt then lasts as long as the
// handler.
func (bw *boundedWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	bw.mu.Lock()
	defer bw.mu.Unlock()
	if bw.state != attemptPending || bw.closedLocked() {
		return nil, nil, errAttemptTimeout
	}
	conn, rw, err := http.NewResponseController(bw.w).Hijack()
	if err == nil {
		bw.state = attemptHijacked
	}
	return conn, rw, err
}

// finish ends an attempt whose handler returned: the implicit 200 of a
// handler that wrote nothing, and the trailers it set. It reports false
// when the deadline had passed before the answer was complete.
func (bw *boundedWriter) finish() bool {
	bw.mu.Lock()
	defer bw.mu.Unlock()
	if bw.state == attemptHijacked {
		return true
	}
	if !bw.writeHeaderLocked(http.StatusOK) || bw.cut {
		return false
	}
	copyHeader(bw.w.Header(), bw.h)
	bw.closed = true
	return true
}

// detach stops the handler's writes and reports how far its answer got.
func (bw *boundedWriter) detach() attemptState {
	bw.mu.Lock()
	defer bw.mu.Unlock()
	bw.closed = true
	return bw.state
}

// copyHeader sets in dst every field of src.
func copyHeader(dst, src http.Header) {
	for k, v := range src {
		dst[k] = v
	}
}

// serveWithPolicies serves a request under a retry policy, a session
// policy or both. Each attempt writes into an attemptWriter, which decides
// when the status arrives whether the answer goes to the client or is
// dropped for a retry; once anything has gone to the client there is no
// retry.
func (d *dispatcher) serveWithPolicies(w http.ResponseWriter, r *http.Request, st *requestState, entry *backendEntry) {
	var body []byte
	replayable := true
	retries := d.retry != nil && d.retry.attempts > 0
	if retries && r.Body != nil && r.Body != http.NoBody {
		var complete bool
		body, complete = readUpTo(r.Body, RetryBodyLimit)
		if !complete {
			// Too large to keep: send it once, streaming the rest.
			replayable = false
			r = withBody(r, io.MultiReader(bytes.NewReader(body), r.Body), -1)
		}
	}
	var failed []bool // by position in the split: backendRefs that failed this request
	for n := 0; ; n++ {
		if st != nil {
			st.attempt = n
		}
		entry.budget.begin()
		aw, wait, release := d.runAttempt(w, r, st, entry, n, body, replayable)
		entry.budget.end()
		if !aw.dropped {
			return
		}
		err := d.env.sleep(r.Context(), wait)
		release()
		if err != nil {
			if !isCanceled(err) {
				writeError(w, fmt.Errorf("%w: request timeout during retry back-off", ErrTimeout))
			}
			return
		}
		if st != nil {
			// The retry goes to another endpoint when it can; a session
			// keeps its expiry and is re-pinned to where the retry lands.
			st.avoid, st.pin = st.endpoint, ""
		}
		// ... and to a backendRef that has not failed this request while
		// one with weight is left, so that retries fail over.
		failed = d.split.markFailed(failed, entry)
		if next := d.split.chooseAvoiding(failed); next != nil {
			entry = next
		}
	}
}

// runAttempt serves one attempt. It returns the attempt's writer (dropped
// when a retry is to follow), the wait before that retry and the release
// of the retry slot it holds (a no-op when there is none).
func (d *dispatcher) runAttempt(w http.ResponseWriter, r *http.Request, st *requestState, entry *backendEntry,
	n int, body []byte, replayable bool) (aw *attemptWriter, wait time.Duration, release func()) {
	release = func() {}
	// The session acts after the split: it pins the endpoint inside the
	// backendRef the weights chose, never the choice itself. A retry
	// (n > 0) goes to another endpoint and is re-pinned where it lands.
	policy, pinIndex := d.sessionFor(entry)
	var sess *sessionValue
	if policy != nil && st != nil {
		sess = policy.resume(r, d.env.now())
		if n == 0 {
			st.pin = sess.pinFor(pinIndex)
		}
	}
	req := r
	if body != nil && replayable {
		req = withBody(r, bytes.NewReader(body), int64(len(body)))
	}
	ctx, cancel := r.Context(), context.CancelFunc(func() {})
	if d.backendTimeout > 0 {
		ctx, cancel = context.WithTimeout(r.Context(), d.backendTimeout)
		req = req.WithContext(ctx)
	}
	defer cancel()
	aw = &attemptWriter{w: w, header: make(http.Header)}
	if st != nil {
		st.attemptErr, st.endpoint = nil, ""
		if aw.obs = st.obs; aw.obs != nil {
			req = aw.obs.beginAttempt(req, entry, d.direct)
		}
	}
	aw.decide = func(code int) bool {
		if d.retry == nil || !replayable || r.Context().Err() != nil {
			return false
		}
		// Only the listed statuses are retried (an attempt that timed out
		// answers 504), and connection errors: the backend was never
		// reached, so any method is safe to send again.
		if !d.retry.retriesCode(code) && !(st != nil && isConnectionError(st.attemptErr)) {
			return false
		}
		if n >= d.retry.attempts {
			aw.flag(UpstreamRetryLimitExceeded)
			return false
		}
		remaining := time.Duration(math.MaxInt64)
		if dl, ok := r.Context().Deadline(); ok {
			remaining = time.Until(dl)
		}
		w, ok := d.retry.wait(n, aw.header.Get("Retry-After"), d.env.now(), remaining, d.env.rand)
		if !ok {
			return false
		}
		if !entry.budget.acquire() {
			aw.reject(RejectRetryBudget)
			return false // the backend's retry budget is spent
		}
		rel, ok := acquireRetry(entry.backend)
		if !ok {
			entry.budget.release()
			aw.reject(RejectRetryCircuitBreaker)
			return false // the backend's circuit breaker allows no more retries
		}
		wait = w
		release = func() { rel(); entry.budget.release() }
		return true
	}
	aw.beforeHeader = func(h http.Header) {
		if policy != nil && st != nil {
			policy.issue(h, r, pinIndex, st.endpoint, sess, d.env.now())
		}
	}
	defer func() {
		// A dropped answer is cut short: the proxy then aborts its copy
		// with http.ErrAbortHandler, which must not reach the server.
		p := recover()
		if aw.obs != nil {
			aw.obs.endAttempt(entry.backend, aw.dropped, !aw.dropped)
		}
		if p != nil && !(aw.dropped && p == http.ErrAbortHandler) {
			release()
			panic(p)
		}
	}()
	d.serveAttempt(aw, req, entry)
	aw.finish()
	return aw, wait, release
}

// isConnectionError reports whether an attempt failed before reaching the
// backend: no connection could be made (refused, unreachable, dial
// timeout) or no endpoint was healthy. A connection reset after the
// request was sent is not one: the backend may have processed it.
func isConnectionError(err error) bool {
	return err != nil && errors.Is(err, ErrNoEndpoint)
}

// parseRetryAfter parses a Retry-After value (delay-seconds or an
// HTTP-date, RFC 9110 §10.2.3). A delay too long to represent saturates
// rather than overflowing, so that it is seen as too long.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	if v != "" && v[0] >= '0' && v[0] <= '9' {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				return math.MaxInt64, true
			}
			return 0, false
		}
		if s > uint64(math.MaxInt64/int64(time.Second)) {
			return math.MaxInt64, true
		}
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true // Time.Sub saturates
	}
	return 0, false
}

// readUpTo reads at most limit bytes of rc; complete reports whether that
// was the whole body.
func readUpTo(rc io.Reader, limit int) ([]byte, bool) {
	buf, err := io.ReadAll(io.LimitReader(rc, int64(limit)+1))
	if err != nil || len(buf) > limit {
		return buf, false
	}
	return buf, true
}

// withBody returns a shallow copy of r reading its body from body.
func withBody(r *http.Request, body io.Reader, length int64) *http.Request {
	r2 := new(http.Request)
	*r2 = *r
	r2.Body = io.NopCloser(body)
	r2.ContentLength = length
	r2.GetBody = nil
	return r2
}

// attemptWriter holds back the answer of one attempt until its status is
// known, then either forwards it to the client or drops it for a retry.
// Until the decision its headers are its own; once forwarded, Header is the
// client writer's map, so that trailers set after the body are sent.
type attemptWriter struct {
	w            http.ResponseWriter
	header       http.Header
	decide       func(code int) bool // true drops the answer for a retry
	beforeHeader func(http.Header)
	decided      bool
	dropped      bool
	// obs records the attempt, nil when the request is not observed.
	obs *observation
}

func (aw *attemptWriter) flag(f ResponseFlags) {
	if aw.obs != nil {
		aw.obs.flag(f)
	}
}

func (aw *attemptWriter) reject(r Rejection) {
	if aw.obs != nil {
		aw.obs.reject(r)
	}
}

// errAttemptDropped stops the copy of an answer dropped for a retry.
var errAttemptDropped = errors.New("httproute: answer dropped for a retry")

func (aw *attemptWriter) Header() http.Header {
	if aw.decided && !aw.dropped {
		return aw.w.Header()
	}
	return aw.header
}

func (aw *attemptWriter) WriteHeader(code int) {
	if aw.decided {
		return // a second WriteHeader is a no-op, as in net/http
	}
	if code < 200 && code != http.StatusSwitchingProtocols {
		return // informational answers are not passed on while a retry is possible
	}
	aw.decided = true
	if aw.obs != nil {
		aw.obs.attemptStatus(code)
	}
	if aw.decide != nil && aw.decide(code) {
		aw.dropped = true
		return
	}
	dst := aw.w.Header()
	for k, v := range aw.header {
		dst[k] = v
	}
	if aw.beforeHeader != nil {
		aw.beforeHeader(dst)
	}
	aw.w.WriteHeader(code)
}

func (aw *attemptWriter) Write(p []byte) (int, error) {
	if !aw.decided {
		aw.WriteHeader(http.StatusOK)
	}
	if aw.dropped {
		return 0, errAttemptDropped
	}
	return aw.w.Write(p)
}

func (aw *attemptWriter) Flush() {
	if !aw.decided {
		aw.WriteHeader(http.StatusOK)
	}
	if !aw.dropped {
		_ = http.NewResponseController(aw.w).Flush()
	}
}

// Unwrap gives access to the client's writer (Hijack for upgrades) only
// once the answer is forwarded: before, a retry may still replace it.
func (aw *attemptWriter) Unwrap() http.ResponseWriter {
	if aw.decided && !aw.dropped {
		return aw.w
	}
	return nil
}

// finish sends the implicit 200 of a handler that wrote nothing.
func (aw *attemptWriter) finish() {
	if !aw.decided {
		aw.WriteHeader(http.StatusOK)
	}
}

// sleep waits for d on the Router's clock, or until ctx is done.
func (e *env) sleep(ctx context.Context, d time.Duration) error {
	if e.sleeper != nil {
		return e.sleeper(ctx, d)
	}
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// recoverHandler turns a panic in h into a 500 (when nothing was written
// yet) and a log record, instead of a crashed connection.
func recoverHandler(h http.Handler, logger *slog.Logger, what string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tw := &trackingWriter{ResponseWriter: w}
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if p == http.ErrAbortHandler {
				panic(p)
			}
			logger.Error("panic in filter", "filter", what, "panic", fmt.Sprint(p))
			if !tw.wrote {
				writeError(w, fmt.Errorf("%w: filter %s panicked", ErrInvalidRule, what))
			}
		}()
		h.ServeHTTP(tw, r)
	})
}

// trackingWriter records whether the response header was written.
type trackingWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *trackingWriter) WriteHeader(code int) {
	if code >= 200 || code == http.StatusSwitchingProtocols {
		w.wrote = true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *trackingWriter) Write(p []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(p)
}

func (w *trackingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *trackingWriter) Flush() {
	w.wrote = true
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

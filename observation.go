package httproute

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// hooks are the host's per-request hooks of a table, from its Config:
// the Observer with its optional interfaces found once, the clock of
// records, and the handler of requests no rule matches.
type hooks struct {
	observer       Observer
	requestStarter RequestStarter
	attemptStarter AttemptStarter
	// firstByte is set when the Observer wants the time to first byte
	// (FirstByteObserver).
	firstByte bool
	// clock is Config.Now, nil for the real clock: records then measure
	// durations with the monotonic clock, one reading each.
	clock    func() time.Time
	notFound http.Handler
	// epoch is a reading of the real clock, wall and monotonic, at most
	// a second old (see start).
	epoch atomic.Pointer[time.Time]
	// observations recycles the observations of requests the Router is
	// done with (see finish), so that a recorded request allocates no
	// more than one that is not.
	observations sync.Pool
}

func (h *hooks) set(cfg *Config) {
	h.observer, h.clock, h.notFound = cfg.Observer, cfg.Now, cfg.NotFound
	h.requestStarter, _ = cfg.Observer.(RequestStarter)
	h.attemptStarter, _ = cfg.Observer.(AttemptStarter)
	fb, _ := cfg.Observer.(FirstByteObserver)
	h.firstByte = fb != nil && fb.ObservesFirstByte()
}

// start returns the start of a request's record: Config.Now's time, or
// the wall clock read at most a second before (epoch) advanced by the
// monotonic clock since, which costs one reading of the monotonic clock
// instead of one of each. The wall time may therefore lag a step of the
// wall clock by up to a second; durations are the monotonic clock's.
func (h *hooks) start() time.Time {
	if h.clock != nil {
		return h.clock()
	}
	if e := h.epoch.Load(); e != nil {
		if d := time.Since(*e); d < time.Second {
			return e.Add(d)
		}
	}
	now := time.Now()
	h.epoch.Store(&now)
	return now
}

// observation is what the Router records of one request. Its fields are
// written by the goroutine serving the request, except the recordWriter's
// and the attempts' status, which are written by whoever writes the
// answer (a timer's 504, a bounded in-process attempt) under the lock of
// the writer that serializes them, and read once the rule's handler has
// returned.
//
// An observation is recycled once the request is done (hooks.observations),
// so nothing may keep a pointer into it past finish: the request's state
// (a context handlers may keep) loses its pointer there, and what outlives
// a request by design is kept apart (the request body a transport may still
// read, countingBody; the WithRecord holder's copy).
type observation struct {
	rec Record
	// attempts holds the first attempt; retries append beyond it.
	attempts [1]Attempt
	// ends are the AttemptStarter's end functions, one per attempt.
	ends []func(*Attempt)
	rw   recordWriter
	// body counts the request body; nil when the request has none.
	body   *countingBody
	sc     *stateContext // the request's state, in the context the Router got
	h      *hooks        // the Router's hooks: sc.st.env's, one load away
	holder *Record
	// firstByte is set when someone wants the time to first byte: the
	// Observer (FirstByteObserver) or a WithRecord holder.
	firstByte bool
	// ended counts the attempts whose end was recorded.
	ended uint16
	// timedOut is set when the request timeout answered 504.
	timedOut bool
}

// serveObserved serves a request whose record someone wants: the
// Router's Observer or a WithRecord holder. The request state is
// allocated as for any request; the observation comes from the Router's
// pool and goes back to it when the request is done.
func (t *table) serveObserved(w http.ResponseWriter, r *http.Request, port int32, gw *types.NamespacedName,
	raw, path string, v pathVerdict, holder *Record) {
	sc := &stateContext{Context: r.Context()}
	o, _ := t.env.observations.Get().(*observation)
	if o == nil {
		o = new(observation)
	}
	sc.st.obs, sc.st.env = o, t.env
	o.sc, o.h, o.holder = sc, &t.env.hooks, holder
	o.firstByte = holder != nil || o.h.firstByte
	o.rec.Start = o.h.start()
	o.rec.Request = r
	o.rec.Attempts = o.attempts[:0]
	o.rw.ResponseWriter, o.rw.o = w, o
	completed := false
	defer func() { o.finish(completed) }()
	if v != pathServe {
		if v != pathRedirect {
			o.rec.Flags |= DownstreamProtocolError
		}
		v.answer(&o.rw, o.startRequest(r), path)
		completed = true
		return
	}
	t.route(sc, &o.rw, r, raw, path, port, gw)
	completed = true
}

// elapsed is the time since the record's start.
func (o *observation) elapsed() time.Duration {
	if c := o.h.clock; c != nil {
		return c().Sub(o.rec.Start)
	}
	return time.Since(o.rec.Start)
}

// request records the request as matching sees it and counts its body.
func (o *observation) request(r *http.Request) {
	if r.Body != nil && r.Body != http.NoBody {
		o.body = &countingBody{rc: r.Body}
		r.Body = o.body
	}
	o.rec.Request = r
}

// matched records the rule that serves the request and tells a
// RequestStarter; it returns the request to serve.
func (o *observation) matched(t *table, c *candidate, r *http.Request) *http.Request {
	o.rec.Match = c.info
	if len(t.telemetry) > 0 {
		o.rec.Telemetry = t.telemetry[c.info.Gateway]
	}
	return o.startRequest(r)
}

// unmatched records why no rule serves the request and tells a
// RequestStarter; it returns the request to answer.
func (o *observation) unmatched(err error, r *http.Request) *http.Request {
	if errors.Is(err, ErrNoRoute) {
		o.rec.Flags |= NoRoute
	}
	return o.startRequest(r)
}

func (o *observation) startRequest(r *http.Request) *http.Request {
	if s := o.h.requestStarter; s != nil {
		r = s.StartRequest(r, &o.rec)
		o.rec.Request = r
	}
	return r
}

// beginAttempt records the start of an attempt at entry and tells an
// AttemptStarter; it returns the request to send. The first attempt of a
// direct rule (no filters, no request timeout, see dispatcher) starts
// with the request, as nothing but matching comes before it: the clock is
// not read for it (unless a RequestStarter ran in between).
func (o *observation) beginAttempt(r *http.Request, entry *backendEntry, direct bool) *http.Request {
	var start time.Duration
	if !direct || len(o.rec.Attempts) > 0 || o.h.requestStarter != nil {
		start = o.elapsed()
	}
	o.rec.Attempts = append(o.rec.Attempts, Attempt{Backend: &entry.choice, Start: start})
	if s := o.h.attemptStarter; s != nil {
		r2, end := s.StartAttempt(r, &o.rec)
		o.ends = append(o.ends, end)
		return r2
	}
	return r
}

// attemptStatus records the status of the current attempt's answer, as it
// arrives; an answer the Router wrote for a failed attempt is not the
// backend's.
func (o *observation) attemptStatus(code int) {
	n := len(o.rec.Attempts)
	if n == 0 || o.sc.st.attemptErr != nil {
		return
	}
	if a := &o.rec.Attempts[n-1]; a.Status == 0 {
		a.Status = code
		if o.firstByte {
			a.FirstByte = o.elapsed() - a.Start
		}
	}
}

// endAttempt records the end of the current attempt at b: its error, the
// endpoint it went to, whether it was dropped for a retry, and, unless it
// is the last (whose answer lasts until the request is done, see
// finish), its duration.
func (o *observation) endAttempt(b Backend, dropped, last bool) {
	n := len(o.rec.Attempts)
	if n == 0 || int(o.ended) == n {
		return
	}
	o.ended = uint16(min(n, math.MaxUint16))
	a := &o.rec.Attempts[n-1]
	if !last {
		a.Duration = o.elapsed() - a.Start
	}
	if a.Err = o.sc.st.attemptErr; a.Err != nil {
		a.Class = classify(a.Err)
	}
	a.Retried = dropped
	if id := o.sc.st.endpoint; id != "" {
		a.Endpoint = endpointAddress(b, id)
	}
}

// flag records flags; reject records the limit that refused a request or
// a retry.
func (o *observation) flag(f ResponseFlags) { o.rec.Flags |= f }

func (o *observation) reject(r Rejection) {
	o.rec.Flags |= UpstreamOverflow
	o.rec.Rejection = r
}

// classFlags are the flags of an attempt's error class.
var classFlags = [...]ResponseFlags{
	ErrorTimeout:    UpstreamRequestTimeout,
	ErrorConnect:    UpstreamConnectionFailure,
	ErrorNoEndpoint: NoHealthyUpstream,
	ErrorOverflow:   UpstreamOverflow,
	ErrorInvalid:    NoBackend,
	ErrorCanceled:   DownstreamConnectionTermination,
	ErrorBackend:    UpstreamConnectionTermination,
}

// finish completes the record once the Router is done with the request
// (completed is false when a panic is unwinding it) and hands it out: to
// the AttemptStarter's end functions, the WithRecord holder and the
// Observer.
func (o *observation) finish(completed bool) {
	rec, rw := &o.rec, &o.rw
	rec.Duration = o.elapsed()
	switch {
	case rw.hijacked:
		rec.Status = http.StatusSwitchingProtocols
	case rw.code != 0:
		rec.Status = int(rw.code)
	case completed && o.sc.Context.Err() == nil:
		rec.Status = http.StatusOK // what net/http sends for a handler that wrote nothing
	}
	rec.BytesOut = rw.bytes
	if o.body != nil {
		rec.BytesIn = o.body.n.Load()
	}
	if n := len(rec.Attempts); n > 0 {
		a := &rec.Attempts[n-1]
		if int(o.ended) < n {
			// Cut short by a panic: a failure of the backend (ErrorBackend)
			// unless the proxy said what failed.
			a.Err, a.Class = o.sc.st.attemptErr, ErrorBackend
			if a.Err != nil {
				a.Class = classify(a.Err)
			}
		}
		if !a.Retried {
			a.Duration = rec.Duration - a.Start
		}
		if a.Status == 0 && a.Err == nil && o.timedOut {
			// The request timeout answered before the attempt did.
			a.Err, a.Class = errRequestTimeout, ErrorTimeout
		}
		if a.Status == 0 && a.Err == nil && !o.timedOut && rec.Status != 0 {
			// The attempt's answer went to the client unseen by the
			// attempt itself (no retry policy holds it back).
			a.Status = rec.Status
			if o.firstByte {
				a.FirstByte = max(rw.at-a.Start, 0)
			}
		}
		rec.Backend, rec.Endpoint = a.Backend, a.Endpoint
		if a.Status != 0 && a.Err == nil && !o.timedOut && o.firstByte {
			rec.UpstreamFirstByte = a.Start + a.FirstByte
		}
		if int(a.Class) < len(classFlags) {
			rec.Flags |= classFlags[a.Class]
		}
		if a.Class == ErrorOverflow && rec.Rejection == RejectNone {
			rec.Rejection = RejectCircuitBreaker
		}
	}
	if o.timedOut {
		rec.RequestTimeout = true
		rec.Flags |= UpstreamRequestTimeout
	}
	if !completed || rec.Status == 0 {
		if errors.Is(o.sc.Context.Err(), context.Canceled) {
			rec.Flags |= DownstreamConnectionTermination
		} else if !completed {
			rec.Flags |= UpstreamConnectionTermination
		}
	}
	for i, end := range o.ends {
		if end != nil && i < len(rec.Attempts) {
			end(&rec.Attempts[i])
		}
	}
	if o.holder != nil {
		*o.holder = *rec
		o.holder.Attempts = slices.Clone(rec.Attempts)
	}
	h := o.h
	if h.observer != nil {
		h.observer.ObserveRequest(rec)
	}
	if completed {
		o.recycle(h)
	}
}

// recycle returns o to the pool once the request is done. The
// observation of a request cut short by a panic is left to the garbage
// collector instead: a timer or an attempt's goroutine may still be
// writing to it.
func (o *observation) recycle(h *hooks) {
	o.sc.st.obs = nil
	ends := o.ends
	clear(ends)
	*o = observation{ends: ends[:0]}
	h.observations.Put(o)
}

// errRequestTimeout is the error of an attempt that the request timeout
// cut short.
var errRequestTimeout = fmt.Errorf("%w: request timeout", ErrTimeout)

// endpointAddress returns the address of the endpoint with the given id
// among b's, "" when b has no endpoints (an in-process or extension
// backend).
func endpointAddress(b Backend, id string) string {
	for {
		switch v := b.(type) {
		case *Upstream:
			for _, ep := range *v.endpoints.Load() {
				if ep.id == id {
					return ep.url.Host
				}
			}
			return ""
		case *limitedBackend:
			b = v.inner
		default:
			return ""
		}
	}
}

// recordWriter is the client's ResponseWriter as an observed request
// sees it: it records the status, when it was written (when someone wants
// the time to first byte) and the bytes of the body.
type recordWriter struct {
	http.ResponseWriter
	o        *observation
	at       time.Duration
	bytes    int64
	code     int32
	hijacked bool
}

func (w *recordWriter) status(code int) {
	if w.code == 0 {
		w.code = int32(code)
		if w.o.firstByte {
			w.at = w.o.elapsed()
		}
	}
}

func (w *recordWriter) WriteHeader(code int) {
	if code >= 200 || code == http.StatusSwitchingProtocols {
		w.status(code)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recordWriter) Write(p []byte) (int, error) {
	w.status(http.StatusOK)
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// ReadFrom keeps the client writer's io.ReaderFrom (sendfile) for
// in-process handlers that copy files.
func (w *recordWriter) ReadFrom(src io.Reader) (int64, error) {
	w.status(http.StatusOK)
	var n int64
	var err error
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(writerOnly{w.ResponseWriter}, src)
	}
	w.bytes += n
	return n, err
}

func (w *recordWriter) Flush() {
	w.status(http.StatusOK)
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack hands the connection over (an upgrade); what goes over it is not
// counted.
func (w *recordWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.hijacked = true
		w.status(http.StatusSwitchingProtocols)
	}
	return conn, brw, err
}

func (w *recordWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// writerOnly hides everything of a writer but Write, so that io.Copy does
// not call back into ReadFrom.
type writerOnly struct{ io.Writer }

// countingBody counts the bytes of a request body as they are read, from
// whichever goroutine reads them (a transport sends bodies from its own).
type countingBody struct {
	rc io.ReadCloser
	n  atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.n.Add(int64(n))
	return n, err
}

func (b *countingBody) Close() error { return b.rc.Close() }

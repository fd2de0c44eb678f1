package httproute

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/httproute/httproute/internal/duration"
)

// The RequestMirror filter sends a copy of the requests it sees to another
// backendRef and ignores the answers. A rule may have several; each draws
// its own sample of requests (percent, or fraction, of them; all when
// neither is set) from the Router's random source.
//
// A mirror never delays, fails or alters the request it copies:
//
//   - The copy is taken where the filter stands in the list: filters before
//     it apply to the copy, filters after it do not.
//   - The copy is sent from its own goroutine, with a context that the
//     client going away does not cancel, bounded by the rule's request
//     timeout, or mirrorTimeout when the rule has none.
//   - A body is copied as the primary request streams it to its backend,
//     never read ahead: the copy is sent once the body has been read to
//     its end. A body larger than mirrorMaxBody (64 KiB) is not mirrored at
//     all, since a mirror without its body would be another request; nor
//     is one that the primary backend did not read to the end.
//   - At most mirrorMaxInFlight copies per filter are in flight; further
//     copies are dropped while that many are outstanding. Drops are
//     logged at Warn level when their count reaches a power of two, and
//     every copy not sent is told to a MirrorObserver.
//   - Failures to deliver a copy are logged at Warn level through the
//     Router's logger; the answer of the mirror backend is read and
//     discarded. Each copy sent and done is logged at Debug level.
//
// A mirror backendRef that cannot be resolved is dropped, as the spec
// requires: the route reports ResolvedRefs False and the rule serves
// without that mirror.
type mirror struct {
	name    string
	handler http.Handler
	// The filter mirrors when rand.Uint64N(den) < num; always when all.
	num, den uint64
	all      bool
	rand     *rand.Rand
	logger   *slog.Logger
	env      *env // for its background tracker, set once the table serves
	timeout  time.Duration
	sem      chan struct{}
	dropped  atomic.Uint64
	// observer is told of the copies not sent, nil when nobody listens;
	// drop describes them.
	observer MirrorObserver
	drop     MirrorDrop
}

const (
	// mirrorMaxBody is the largest request body that is mirrored.
	mirrorMaxBody = 64 << 10
	// mirrorMaxInFlight bounds the copies in flight per RequestMirror filter.
	mirrorMaxInFlight = 64
	// mirrorTimeout bounds a copy when the rule has no request timeout; it
	// is Envoy's default route timeout.
	mirrorTimeout = 15 * time.Second
)

func (rc *ruleCompiler) compileMirror(f *gatewayv1.HTTPRequestMirrorFilter, path *field.Path) (middleware, *Error) {
	m := &mirror{
		rand:    rc.c.env.rand,
		logger:  rc.c.env.logger,
		env:     rc.c.env,
		timeout: mirrorTimeout,
		sem:     make(chan struct{}, mirrorMaxInFlight),
	}
	invalid := func(fe *field.Error) (middleware, *Error) {
		return nil, rc.c.routeError(rc.route, reasonUnsupportedValue, fe)
	}
	switch {
	case f.Percent != nil && f.Fraction != nil:
		return invalid(field.Invalid(path, "percent, fraction", "Only one of percent or fraction may be specified in HTTPRequestMirrorFilter"))
	case f.Percent != nil:
		if *f.Percent < 0 || *f.Percent > 100 {
			return invalid(field.Invalid(path.Child("percent"), *f.Percent, "must be between 0 and 100"))
		}
		m.num, m.den = uint64(*f.Percent), 100
	case f.Fraction != nil:
		den := int32(100)
		if f.Fraction.Denominator != nil {
			den = *f.Fraction.Denominator
		}
		if den < 1 {
			return invalid(field.Invalid(path.Child("fraction", "denominator"), den, "should be greater than or equal to 1"))
		}
		if f.Fraction.Numerator < 0 || f.Fraction.Numerator > den {
			return invalid(field.Invalid(path.Child("fraction", "numerator"), f.Fraction.Numerator, "numerator must be between 0 and the denominator"))
		}
		m.num, m.den = uint64(f.Fraction.Numerator), uint64(den)
	default:
		m.num, m.den = 1, 1
	}
	m.all = m.num == m.den
	if t := rc.spec.Timeouts; t != nil && t.Request != nil {
		if d, err := duration.Parse(string(*t.Request)); err == nil && d > 0 {
			m.timeout = d
		}
	}

	ref := rc.backendRef(&f.BackendRef)
	b, err := rc.resolveBackend(ref, path.Child("backendRef"))
	if err != nil || m.num == 0 {
		// Dropped (and reported by resolveBackend), or never mirrors.
		return func(next http.Handler) http.Handler { return next }, nil
	}
	m.name = ref.String()
	m.handler = mirrorHandler(b, ref, rc.c.env)
	if mo, ok := rc.c.env.observer.(MirrorObserver); ok {
		m.observer = mo
		m.drop = MirrorDrop{
			Route:   types.NamespacedName{Namespace: rc.route.namespace, Name: rc.route.name},
			Rule:    rc.rule.index,
			Backend: ref,
		}
	}
	return m.middleware, nil
}

// mirrorHandler sends mirrored requests to b: an in-process handler
// directly, any other Backend through a proxy that reports transport
// errors to the mirrorWriter instead of answering them.
func mirrorHandler(b Backend, ref BackendRef, e *env) http.Handler {
	if h, ok := inProcessHandler(b); ok {
		return h
	}
	return newProxy(b, ref, e.buffers, e.logger, func(w http.ResponseWriter, _ *http.Request, err error) {
		if mw, ok := w.(*mirrorWriter); ok {
			mw.err = err
		}
	})
}

func (m *mirror) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if st := stateFrom(r.Context()); st != nil && st.attempt > 0 {
			// A backendRef's mirror copies the request once, not once per
			// retry of it.
			next.ServeHTTP(w, r)
			return
		}
		if !m.all && m.rand.Uint64N(m.den) >= m.num {
			next.ServeHTTP(w, r)
			return
		}
		if r.ContentLength > mirrorMaxBody {
			m.skip(MirrorBodyTooLarge)
			next.ServeHTTP(w, r)
			return
		}
		cp := r.Clone(statelessContext{context.WithoutCancel(r.Context())})
		if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
			cp.Body, cp.ContentLength = http.NoBody, 0
			m.launch(cp)
			next.ServeHTTP(w, r)
			return
		}
		tee := &teeBody{src: r.Body, m: m, cp: cp}
		r2 := new(http.Request)
		*r2 = *r
		r2.Body = tee
		next.ServeHTTP(w, r2)
		if why := tee.why(); why != "" {
			m.skip(why)
		}
	})
}

// skip records a copy not sent, for a reason of MirrorDrop.
func (m *mirror) skip(reason string) {
	if m.logger.Enabled(context.Background(), slog.LevelDebug) {
		m.logger.Debug("request not mirrored", "backend", m.name, "reason", reason)
	}
	m.observe(reason)
}

// observe tells the observer of a copy not sent.
func (m *mirror) observe(reason string) {
	if m.observer != nil {
		d := m.drop
		d.Reason = reason
		m.observer.ObserveMirrorDrop(d)
	}
}

// launch sends cp from a goroutine of its own, unless the filter has
// mirrorMaxInFlight copies in flight already.
func (m *mirror) launch(cp *http.Request) {
	select {
	case m.sem <- struct{}{}:
	default:
		if n := m.dropped.Add(1); n&(n-1) == 0 {
			m.logger.Warn("request mirror dropped: too many mirrored requests in flight",
				"backend", m.name, "limit", cap(m.sem), "dropped", n)
		}
		m.observe(MirrorInFlightLimit)
		return
	}
	bg := m.env.bg
	if !bg.start() {
		<-m.sem
		m.observe(MirrorClosed)
		return // the Router is closed
	}
	if m.logger.Enabled(context.Background(), slog.LevelDebug) {
		m.logger.Debug("request mirror sent", "backend", m.name, "path", cp.URL.Path)
	}
	go m.send(cp, bg)
}

func (m *mirror) send(cp *http.Request, bg *background) {
	defer bg.done()
	defer func() { <-m.sem }()
	bctx, stop := bg.context(cp.Context())
	defer stop()
	ctx, cancel := context.WithTimeout(bctx, m.timeout)
	defer cancel()
	mw := &mirrorWriter{header: http.Header{}}
	m.serve(mw, cp.WithContext(ctx))
	if mw.err != nil {
		m.logger.Warn("request mirror failed", "backend", m.name, "path", cp.URL.Path, "error", mw.err)
		return
	}
	if m.logger.Enabled(ctx, slog.LevelDebug) {
		m.logger.Debug("request mirror done", "backend", m.name, "path", cp.URL.Path, "status", mw.code)
	}
}

// serve runs the mirror backend, turning a panic into an error: nothing
// about a mirror may take the process down.
func (m *mirror) serve(mw *mirrorWriter, cp *http.Request) {
	defer func() {
		if p := recover(); p != nil {
			mw.err = fmt.Errorf("%w: mirror backend panicked: %v", ErrBackend, p)
		}
	}()
	m.handler.ServeHTTP(mw, cp)
}

// mirrorWriter receives the answer of a mirror backend and discards it.
type mirrorWriter struct {
	header http.Header
	code   int
	err    error
}

func (w *mirrorWriter) Header() http.Header { return w.header }

func (w *mirrorWriter) WriteHeader(code int) {
	if w.code == 0 && code >= 200 {
		w.code = code
	}
}

func (w *mirrorWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return len(p), nil
}

func (w *mirrorWriter) Flush() {}

// teeBody is the body of a mirrored request as the primary reads it: it
// keeps a copy of up to mirrorMaxBody bytes and sends the mirror when the
// body ends within that bound.
type teeBody struct {
	src io.ReadCloser
	m   *mirror
	cp  *http.Request

	mu    sync.Mutex
	buf   bytes.Buffer
	state teeState
}

type teeState uint8

const (
	teeReading teeState = iota
	teeSent             // read to its end: the mirror was launched
	teeOver             // longer than mirrorMaxBody: no mirror
)

func (t *teeBody) Read(p []byte) (int, error) {
	n, err := t.src.Read(p)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.state != teeReading {
		return n, err
	}
	if t.buf.Len()+n > mirrorMaxBody {
		t.state = teeOver
		t.buf = bytes.Buffer{}
		return n, err
	}
	t.buf.Write(p[:n])
	if err == io.EOF {
		t.state = teeSent
		body := t.buf.Bytes()
		t.cp.Body = io.NopCloser(bytes.NewReader(body))
		t.cp.ContentLength = int64(len(body))
		t.cp.TransferEncoding = nil
		t.cp.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		t.m.launch(t.cp)
	}
	return n, err
}

func (t *teeBody) Close() error { return t.src.Close() }

// why returns why the mirror was not sent, or "" when it was.
func (t *teeBody) why() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch t.state {
	case teeSent:
		return ""
	case teeOver:
		return MirrorBodyTooLarge
	default:
		return MirrorBodyNotRead
	}
}

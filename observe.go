package httproute

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// An Observer receives one Record for every request a Router serves
// (Config.Observer): access logs, metrics and traces are Observers. The
// Router calls ObserveRequest in the request's goroutine once it is done
// with the request, before ServeHTTP returns; rec and everything it
// points to are valid only during the call and must not be modified: the
// Router reuses the Record (its Attempts too) for a later request, so an
// Observer that keeps something of it copies it. An Observer must be
// safe for concurrent use and should be quick: the client's connection
// waits for it.
//
// Further capabilities are optional interfaces an Observer may also
// implement: RequestStarter and AttemptStarter (to start spans and
// propagate a trace context), MirrorObserver, EndpointObserver and
// UpdateObserver (events that belong to no single request).
type Observer interface {
	ObserveRequest(rec *Record)
}

// ObserverFunc adapts a function to an Observer.
type ObserverFunc func(rec *Record)

// ObserveRequest calls f.
func (f ObserverFunc) ObserveRequest(rec *Record) { f(rec) }

// A RequestStarter is an Observer that is told when the Router starts
// serving a request: after matching (rec.Match is set, or nil when no
// rule matched), before filters and backends run. It returns the request
// to serve, typically r with a span in its context; the handlers of the
// rule (in-process backends included) see that context. rec is the
// Record the Observer will get; as there, it is valid only during the
// call.
type RequestStarter interface {
	StartRequest(r *http.Request, rec *Record) *http.Request
}

// An AttemptStarter is an Observer that is told before each attempt at a
// backendRef (the first and every retry), with the request as the
// backendRef's filters and backend will get it and the record so far
// (the attempt is the last of rec.Attempts). It returns the request to
// send, typically with a client span in its context and the trace
// context in its headers, and a function the Router calls with the
// attempt's outcome once the request is done (nil for none). It must
// not modify r: headers it adds go in a copy. rec, and the Attempt the
// function is given, are valid only during each call, as in
// ObserveRequest.
type AttemptStarter interface {
	StartAttempt(r *http.Request, rec *Record) (*http.Request, func(*Attempt))
}

// A FirstByteObserver is an Observer that wants the time to first byte
// of backends' answers: Record.UpstreamFirstByte and Attempt.FirstByte.
// Measuring it takes one more clock reading per attempt, when its answer
// starts, about an eighth of what recording a request costs
// (BENCHMARKS.md); the Router takes it only when the Observer implements
// FirstByteObserver and ObservesFirstByte returns true (asked once, by
// New and Update), or when the request has a WithRecord holder. Otherwise
// those fields are 0. The access log wants it when it writes
// upstream_service_time, and promroute always (otelroute does not use
// it); so does Observers when any of its observers does.
type FirstByteObserver interface {
	ObservesFirstByte() bool
}

// A MirrorObserver is an Observer that is told of request copies a
// RequestMirror filter did not send.
type MirrorObserver interface {
	ObserveMirrorDrop(MirrorDrop)
}

// A MirrorDrop is a copy of a request that a RequestMirror filter did not
// send.
type MirrorDrop struct {
	// Route and Rule name the rule whose filter dropped the copy.
	Route types.NamespacedName
	Rule  int
	// Backend is the mirror's backendRef.
	Backend BackendRef
	// Reason says why: MirrorInFlightLimit, MirrorBodyTooLarge,
	// MirrorBodyNotRead or MirrorClosed.
	Reason string
}

// Reasons of MirrorDrop.
const (
	// MirrorInFlightLimit: the filter had its limit of copies in flight.
	MirrorInFlightLimit = "InFlightLimit"
	// MirrorBodyTooLarge: the request body is larger than a mirror keeps.
	MirrorBodyTooLarge = "BodyTooLarge"
	// MirrorBodyNotRead: the primary backend did not read the whole body.
	MirrorBodyNotRead = "BodyNotRead"
	// MirrorClosed: the Router is closed.
	MirrorClosed = "Closed"
)

// An EndpointObserver is an Observer that is told when passive health
// checking ejects an endpoint of an Upstream serving the Router's
// requests.
type EndpointObserver interface {
	ObserveEjection(Ejection)
}

// An Ejection is an endpoint taken out of rotation by passive health
// checking.
type Ejection struct {
	// Endpoint is the endpoint's address ("host:port").
	Endpoint string
	// Duration is how long the endpoint stays ejected.
	Duration time.Duration
	// Reason is EjectConnectFailures or Eject5xx.
	Reason string
}

// Reasons of Ejection.
const (
	EjectConnectFailures = "ConsecutiveConnectFailures"
	Eject5xx             = "Consecutive5xx"
)

// observeEjection tells the Router's observer, when it is an
// EndpointObserver, that an Upstream ejected an endpoint while serving the
// request whose state st is (nil outside a Router).
func observeEjection(st *requestState, e Ejection) {
	if st == nil || st.env == nil {
		return
	}
	if eo, ok := st.env.observer.(EndpointObserver); ok {
		eo.ObserveEjection(e)
	}
}

// An UpdateObserver is an Observer that is told of every New and Update:
// whether the Config compiled, and the problems found in it.
type UpdateObserver interface {
	ObserveUpdate(ConfigUpdate)
}

// A ConfigUpdate is the outcome of one New or Update.
type ConfigUpdate struct {
	// Start is when the compile started; Duration how long it took.
	Start    time.Time
	Duration time.Duration
	// Err is why the Config was not installed (the Router serves its
	// previous table); nil when it was.
	Err error
	// Problems are the problems found in the Config: each degraded what
	// it concerns (Status reports them) or, with Config.Strict, made the
	// update fail.
	Problems []error
}

// Record is what a Router did with one request, as an Observer and
// WithRecord receive it.
type Record struct {
	// Start is when the Router began serving the request, with a
	// monotonic clock reading (Config.Now's time when it is set). Its wall
	// time is a wall clock reading at most a second old advanced by the
	// monotonic clock: a step of the wall clock shows within a second.
	Start time.Time
	// Request is the request as the Router served it: the path in its
	// normal form, in the context a RequestStarter returned.
	Request *http.Request
	// Match is the rule that served the request, with its Gateway,
	// listener and port; nil when no rule matched (Flags has NoRoute) or
	// the path was refused before matching.
	Match *Match
	// Telemetry is the XTelemetryPolicy of the Gateway the request came
	// through, nil when none applies.
	Telemetry *TelemetryPolicy
	// Backend is the backendRef of the last attempt, nil when no
	// backendRef was chosen (a filter answered, or no rule matched).
	Backend *BackendChoice
	// Endpoint is the address of the endpoint the last attempt was sent
	// to ("host:port"); empty for in-process and extension backends.
	Endpoint string
	// Attempts are the attempts at backends, in order: the first and each
	// retry.
	Attempts []Attempt
	// Status is the status code the client got; 0 when none was sent (the
	// client went away, or the answer was cut off before its header).
	Status int
	// BytesIn is the size of the request body read; BytesOut the size of
	// the response body written (not counting what goes over a connection
	// taken over by an upgrade).
	BytesIn, BytesOut int64
	// Duration is the time from Start until the Router was done.
	Duration time.Duration
	// UpstreamFirstByte is the time from Start until the status of the
	// answer the client got arrived from a backend (Envoy's
	// RESPONSE_DURATION); 0 when the answer did not come from a backend,
	// or when nobody asked for it (see FirstByteObserver).
	UpstreamFirstByte time.Duration
	// Flags sum up what went wrong, as Envoy's response flags do.
	Flags ResponseFlags
	// RequestTimeout reports whether the rule's request timeout fired.
	RequestTimeout bool
	// Rejection is the limit that refused the request or one of its
	// retries, RejectNone when none did.
	Rejection Rejection
}

// Retries returns the number of retries made: the attempts after the
// first.
func (rec *Record) Retries() int { return max(len(rec.Attempts)-1, 0) }

// Attempt is one attempt at a backendRef.
type Attempt struct {
	// Backend is the backendRef the attempt went to.
	Backend *BackendChoice
	// Endpoint is the address of the endpoint it was sent to, empty for
	// in-process and extension backends.
	Endpoint string
	// Start is when the attempt started, since Record.Start; Duration how
	// long it lasted (the last attempt lasts until its answer is
	// complete).
	Start, Duration time.Duration
	// FirstByte is the time from the attempt's start until the backend's
	// status arrived; 0 when the backend gave no answer, or when nobody
	// asked for it (see FirstByteObserver).
	FirstByte time.Duration
	// Status is the backend's status code, 0 when it gave no answer.
	Status int
	// Err is why the backend gave no answer, nil when it did; Class
	// classifies it.
	Err   error
	Class ErrorClass
	// Retried reports whether the answer was dropped for a retry.
	Retried bool
}

// ErrorClass classifies why an attempt got no answer from its backend.
type ErrorClass uint8

const (
	// ErrorNone: the backend answered.
	ErrorNone ErrorClass = iota
	// ErrorTimeout: the attempt outlived its backendRequest or request
	// timeout.
	ErrorTimeout
	// ErrorConnect: no connection to the endpoint could be made.
	ErrorConnect
	// ErrorNoEndpoint: the backend had no healthy endpoint.
	ErrorNoEndpoint
	// ErrorOverflow: a circuit breaker (Limits.MaxRequests) refused it.
	ErrorOverflow
	// ErrorInvalid: the backendRef cannot be served (it did not resolve).
	ErrorInvalid
	// ErrorCanceled: the client went away.
	ErrorCanceled
	// ErrorBackend: any other failure (a reset connection, a malformed
	// answer, a panicking in-process backend).
	ErrorBackend
)

var errorClassNames = [...]string{"", "timeout", "connect", "no_endpoint", "overflow", "invalid", "canceled", "backend"}

// String returns the class in snake case ("no_endpoint"), "" for
// ErrorNone.
func (c ErrorClass) String() string {
	if int(c) < len(errorClassNames) {
		return errorClassNames[c]
	}
	return "unknown"
}

// classify returns the class of an attempt's error.
func classify(err error) ErrorClass {
	switch {
	case err == nil:
		return ErrorNone
	case errors.Is(err, context.Canceled):
		return ErrorCanceled
	case errors.Is(err, ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return ErrorTimeout
	case errors.Is(err, errOverloaded):
		return ErrorOverflow
	case err == ErrNoEndpoint:
		return ErrorNoEndpoint // an Upstream without a healthy endpoint
	case errors.Is(err, ErrNoEndpoint):
		return ErrorConnect // the endpoint refused or could not be dialled
	case errors.Is(err, ErrInvalidRule):
		return ErrorInvalid
	default:
		return ErrorBackend
	}
}

// Rejection is a limit that refused a request or a retry.
type Rejection uint8

const (
	RejectNone Rejection = iota
	// RejectCircuitBreaker: Limits.MaxRequests refused the request.
	RejectCircuitBreaker
	// RejectRetryCircuitBreaker: Limits.MaxRetries refused a retry.
	RejectRetryCircuitBreaker
	// RejectRetryBudget: the backend's RetryBudget refused a retry.
	RejectRetryBudget
)

var rejectionNames = [...]string{"", "circuit_breaker", "retry_circuit_breaker", "retry_budget"}

// String returns the rejection in snake case ("retry_budget"), "" for
// RejectNone.
func (r Rejection) String() string {
	if int(r) < len(rejectionNames) {
		return rejectionNames[r]
	}
	return "unknown"
}

// ResponseFlags sum up what went wrong with a request, with Envoy's
// response flags' meanings and short names.
type ResponseFlags uint16

const (
	// NoRoute (NR): no rule matched the request.
	NoRoute ResponseFlags = 1 << iota
	// NoBackend (NC): the rule's backendRef cannot be served.
	NoBackend
	// NoHealthyUpstream (UH): the backend had no healthy endpoint.
	NoHealthyUpstream
	// UpstreamConnectionFailure (UF): no connection could be made.
	UpstreamConnectionFailure
	// UpstreamOverflow (UO): a circuit breaker or the retry budget refused
	// the request or a retry.
	UpstreamOverflow
	// UpstreamRequestTimeout (UT): the request or the last attempt timed
	// out.
	UpstreamRequestTimeout
	// UpstreamRetryLimitExceeded (URX): the answer called for a retry and
	// none was left.
	UpstreamRetryLimitExceeded
	// UpstreamConnectionTermination (UC): the backend's answer failed or
	// was cut off.
	UpstreamConnectionTermination
	// DownstreamConnectionTermination (DC): the client went away before
	// the answer was complete.
	DownstreamConnectionTermination
	// DownstreamProtocolError (DPE): the request path was refused (400,
	// 414).
	DownstreamProtocolError
)

var flagNames = [...]string{"NR", "NC", "UH", "UF", "UO", "UT", "URX", "UC", "DC", "DPE"}

// String returns the short names of the flags set, comma-separated, or
// "-" when none is, as Envoy prints them.
func (f ResponseFlags) String() string {
	if f == 0 {
		return "-"
	}
	var b strings.Builder
	for i, name := range flagNames {
		if f&(1<<i) != 0 {
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			b.WriteString(name)
		}
	}
	return b.String()
}

// Has reports whether every flag of g is set in f.
func (f ResponseFlags) Has(g ResponseFlags) bool { return f&g == g }

// Observers returns an Observer that passes everything it observes to
// each of obs, in order, and implements every optional interface (each
// call goes to the observers that implement it). Nil observers are
// skipped.
func Observers(obs ...Observer) Observer {
	m := &multiObserver{}
	for _, o := range obs {
		if o == nil {
			continue
		}
		m.all = append(m.all, o)
		if s, ok := o.(RequestStarter); ok {
			m.requests = append(m.requests, s)
		}
		if s, ok := o.(AttemptStarter); ok {
			m.attempts = append(m.attempts, s)
		}
		if s, ok := o.(MirrorObserver); ok {
			m.mirrors = append(m.mirrors, s)
		}
		if s, ok := o.(EndpointObserver); ok {
			m.endpoints = append(m.endpoints, s)
		}
		if s, ok := o.(UpdateObserver); ok {
			m.updates = append(m.updates, s)
		}
		if s, ok := o.(FirstByteObserver); ok && s.ObservesFirstByte() {
			m.firstByte = true
		}
	}
	return m
}

type multiObserver struct {
	all       []Observer
	requests  []RequestStarter
	attempts  []AttemptStarter
	mirrors   []MirrorObserver
	endpoints []EndpointObserver
	updates   []UpdateObserver
	firstByte bool
}

func (m *multiObserver) ObservesFirstByte() bool { return m.firstByte }

func (m *multiObserver) ObserveRequest(rec *Record) {
	for _, o := range m.all {
		o.ObserveRequest(rec)
	}
}

func (m *multiObserver) StartRequest(r *http.Request, rec *Record) *http.Request {
	for _, s := range m.requests {
		r = s.StartRequest(r, rec)
	}
	return r
}

func (m *multiObserver) StartAttempt(r *http.Request, rec *Record) (*http.Request, func(*Attempt)) {
	var ends []func(*Attempt)
	for _, s := range m.attempts {
		var end func(*Attempt)
		r, end = s.StartAttempt(r, rec)
		if end != nil {
			ends = append(ends, end)
		}
	}
	switch len(ends) {
	case 0:
		return r, nil
	case 1:
		return r, ends[0]
	}
	return r, func(a *Attempt) {
		for _, end := range ends {
			end(a)
		}
	}
}

func (m *multiObserver) ObserveMirrorDrop(d MirrorDrop) {
	for _, o := range m.mirrors {
		o.ObserveMirrorDrop(d)
	}
}

func (m *multiObserver) ObserveEjection(e Ejection) {
	for _, o := range m.endpoints {
		o.ObserveEjection(e)
	}
}

func (m *multiObserver) ObserveUpdate(u ConfigUpdate) {
	for _, o := range m.updates {
		o.ObserveUpdate(u)
	}
}

type recordKey struct{}

// WithRecord returns a copy of ctx that asks the Router serving a request
// with it to fill in rec when it is done, whether or not the Router has
// an Observer: middleware around the Router reads in rec, after ServeHTTP
// returns, which Gateway, route, rule, backendRef and endpoint served the
// request and how. rec's Attempts are rec's own; what its pointers (Match,
// Backend, Request, Telemetry) reference must not be modified. rec stays
// zero when no Router served the request.
func WithRecord(ctx context.Context, rec *Record) context.Context {
	return context.WithValue(ctx, recordKey{}, rec)
}

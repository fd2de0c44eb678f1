// Package promroute keeps Prometheus metrics of what an httproute.Router
// serves: an httproute.Observer (with the optional mirror, endpoint and
// update events) whose collectors are registered with a
// prometheus.Registerer and served with promhttp.
//
//	metrics, err := promroute.New(prometheus.DefaultRegisterer, promroute.Options{})
//	router, err := httproute.New(httproute.Config{..., Observer: metrics})
//	http.Handle("/metrics", promhttp.Handler())
//
// The metrics, all prefixed with Options.Namespace ("httproute"):
//
//	requests_total                    counter   gateway, route, rule, backend, code_class
//	request_duration_seconds          histogram gateway, route, rule, backend, code_class
//	request_bytes_total               counter   gateway, route, rule, backend, code_class
//	response_bytes_total              counter   gateway, route, rule, backend, code_class
//	upstream_attempts_total           counter   gateway, route, rule, backend, outcome
//	upstream_first_byte_seconds       histogram gateway, route, rule, backend
//	retries_total                     counter   gateway, route, rule, backend
//	timeouts_total                    counter   gateway, route, rule, backend, timeout
//	rejections_total                  counter   gateway, route, rule, backend, limit
//	mirror_drops_total                counter   route, rule, backend, reason
//	endpoint_ejections_total          counter   endpoint, reason
//	config_updates_total              counter   result
//	config_problems                   gauge
//	config_last_success_timestamp_seconds gauge
//
// gateway is "namespace/name" ("" for the implicit listener of a Config
// without Gateways), route "namespace/name" ("" when no rule matched),
// rule the rule's name or else its index, backend the backendRef
// ("namespace/name:port", "" when none was chosen), code_class "2xx" to
// "5xx" ("none" when no status was sent), outcome the attempt's
// code_class or its error class ("timeout", "connect", ...), timeout
// "request" or "backend_request", limit the httproute.Rejection.
package promroute

import (
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/httproute/httproute"
)

// Options configure Metrics.
type Options struct {
	// Namespace prefixes the metric names; "" means "httproute".
	Namespace string
	// Buckets are the request duration histogram's, in seconds; nil means
	// prometheus.DefBuckets.
	Buckets []float64
	// ConstLabels are added to every metric.
	ConstLabels prometheus.Labels
}

// Metrics is an httproute.Observer keeping Prometheus metrics. It is safe
// for concurrent use.
type Metrics struct {
	requests, requestBytes, responseBytes *prometheus.CounterVec
	duration, firstByte                   *prometheus.HistogramVec
	attempts, retries, timeouts           *prometheus.CounterVec
	rejections, mirrorDrops, ejections    *prometheus.CounterVec
	updates                               *prometheus.CounterVec
	problems, lastSuccess                 prometheus.Gauge

	// series caches the children of each combination of rule, backendRef
	// and code class the Router serves, so that a request costs no label
	// hashing; it starts over when the Router's table changes.
	series atomic.Pointer[sync.Map]
}

var (
	_ httproute.Observer         = (*Metrics)(nil)
	_ httproute.MirrorObserver   = (*Metrics)(nil)
	_ httproute.EndpointObserver = (*Metrics)(nil)
	_ httproute.UpdateObserver   = (*Metrics)(nil)
)

var (
	requestLabels = []string{"gateway", "route", "rule", "backend", "code_class"}
	ruleLabels    = []string{"gateway", "route", "rule", "backend"}
)

// New returns Metrics whose collectors are registered with reg.
func New(reg prometheus.Registerer, opts Options) (*Metrics, error) {
	ns := opts.Namespace
	if ns == "" {
		ns = "httproute"
	}
	buckets := opts.Buckets
	if buckets == nil {
		buckets = prometheus.DefBuckets
	}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: name, Help: help, ConstLabels: opts.ConstLabels}, labels)
	}
	histogram := func(name, help string, labels ...string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: name, Help: help, Buckets: buckets, ConstLabels: opts.ConstLabels}, labels)
	}
	gauge := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: name, Help: help, ConstLabels: opts.ConstLabels})
	}
	m := &Metrics{
		requests:      counter("requests_total", "Requests served, by rule, backendRef and status class.", requestLabels...),
		duration:      histogram("request_duration_seconds", "Time from a request's start until the Router was done with it.", requestLabels...),
		requestBytes:  counter("request_bytes_total", "Bytes of request bodies read.", requestLabels...),
		responseBytes: counter("response_bytes_total", "Bytes of response bodies written.", requestLabels...),
		attempts:      counter("upstream_attempts_total", "Attempts at backends, by outcome: the status class of the backend's answer, or why there was none.", append(ruleLabels, "outcome")...),
		firstByte:     histogram("upstream_first_byte_seconds", "Time from a request's start until its answer's status arrived from a backend.", ruleLabels...),
		retries:       counter("retries_total", "Retries made.", ruleLabels...),
		timeouts:      counter("timeouts_total", "Timeouts fired: the request timeout, or an attempt's backendRequest timeout.", append(ruleLabels, "timeout")...),
		rejections:    counter("rejections_total", "Requests or retries refused by a circuit breaker or a retry budget.", append(ruleLabels, "limit")...),
		mirrorDrops:   counter("mirror_drops_total", "Request copies a RequestMirror filter did not send.", "route", "rule", "backend", "reason"),
		ejections:     counter("endpoint_ejections_total", "Endpoints ejected by passive health checking.", "endpoint", "reason"),
		updates:       counter("config_updates_total", "Configurations compiled by New or Update, by result (success or failure).", "result"),
		problems:      gauge("config_problems", "Problems found in the configuration last installed."),
		lastSuccess:   gauge("config_last_success_timestamp_seconds", "When the configuration last installed was compiled."),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.requestBytes, m.responseBytes, m.attempts, m.firstByte,
		m.retries, m.timeouts, m.rejections, m.mirrorDrops, m.ejections, m.updates, m.problems, m.lastSuccess} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	m.series.Store(&sync.Map{})
	return m, nil
}

// seriesKey identifies the children of one rule, backendRef and status
// class (or, for attempts, outcome).
type seriesKey struct {
	match   *httproute.Match
	backend *httproute.BackendChoice
	attempt bool
	class   uint8
}

// requestSeries are the children a request updates.
type requestSeries struct {
	requests, requestBytes, responseBytes prometheus.Counter
	duration, firstByte                   prometheus.Observer
	labels                                []string // gateway, route, rule, backend
}

// codeClasses are the code_class values by status/100; statusNone is for
// no status.
var codeClasses = [...]string{"none", "1xx", "2xx", "3xx", "4xx", "5xx"}

func codeClass(status int) uint8 {
	if c := status / 100; c >= 1 && c <= 5 {
		return uint8(c)
	}
	return 0
}

// ruleValues returns the gateway, route, rule and backend label values.
func ruleValues(m *httproute.Match, b *httproute.BackendChoice) []string {
	v := make([]string, 4, 5)
	if m != nil {
		if m.Gateway.Name != "" {
			v[0] = m.Gateway.String()
		}
		v[1] = m.Route.String()
		v[2] = string(m.RuleName)
		if v[2] == "" {
			v[2] = strconv.Itoa(m.Rule)
		}
	}
	if b != nil {
		v[3] = b.Ref.String()
	}
	return v
}

func (m *Metrics) requestSeries(rec *httproute.Record) *requestSeries {
	cache := m.series.Load()
	key := seriesKey{match: rec.Match, backend: rec.Backend, class: codeClass(rec.Status)}
	if s, ok := cache.Load(key); ok {
		return s.(*requestSeries)
	}
	labels := ruleValues(rec.Match, rec.Backend)
	withClass := append(labels[:4:4], codeClasses[key.class])
	s := &requestSeries{
		requests:      m.requests.WithLabelValues(withClass...),
		requestBytes:  m.requestBytes.WithLabelValues(withClass...),
		responseBytes: m.responseBytes.WithLabelValues(withClass...),
		duration:      m.duration.WithLabelValues(withClass...),
		firstByte:     m.firstByte.WithLabelValues(labels...),
		labels:        labels,
	}
	actual, _ := cache.LoadOrStore(key, s)
	return actual.(*requestSeries)
}

// attemptCounter returns the upstream_attempts_total child of an attempt.
func (m *Metrics) attemptCounter(rec *httproute.Record, a *httproute.Attempt) prometheus.Counter {
	cache := m.series.Load()
	key := seriesKey{match: rec.Match, backend: a.Backend, attempt: true, class: codeClass(a.Status)}
	if a.Class != httproute.ErrorNone {
		key.class = 10 + uint8(a.Class)
	}
	if c, ok := cache.Load(key); ok {
		return c.(prometheus.Counter)
	}
	outcome := codeClasses[codeClass(a.Status)]
	if a.Class != httproute.ErrorNone {
		outcome = a.Class.String()
	}
	c := m.attempts.WithLabelValues(append(ruleValues(rec.Match, a.Backend), outcome)...)
	actual, _ := cache.LoadOrStore(key, c)
	return actual.(prometheus.Counter)
}

// ObservesFirstByte is true: the Metrics have a histogram of the time to
// the backend's first byte (see httproute.FirstByteObserver).
func (m *Metrics) ObservesFirstByte() bool { return true }

// ObserveRequest counts one request.
func (m *Metrics) ObserveRequest(rec *httproute.Record) {
	s := m.requestSeries(rec)
	s.requests.Inc()
	s.duration.Observe(rec.Duration.Seconds())
	if rec.BytesIn > 0 {
		s.requestBytes.Add(float64(rec.BytesIn))
	}
	if rec.BytesOut > 0 {
		s.responseBytes.Add(float64(rec.BytesOut))
	}
	if rec.UpstreamFirstByte > 0 {
		s.firstByte.Observe(rec.UpstreamFirstByte.Seconds())
	}
	for i := range rec.Attempts {
		a := &rec.Attempts[i]
		m.attemptCounter(rec, a).Inc()
		if a.Class == httproute.ErrorTimeout && !(rec.RequestTimeout && i == len(rec.Attempts)-1) {
			m.timeouts.WithLabelValues(append(ruleValues(rec.Match, a.Backend), "backend_request")...).Inc()
		}
	}
	// The rarer events pay for their label lookups.
	if n := rec.Retries(); n > 0 {
		m.retries.WithLabelValues(s.labels...).Add(float64(n))
	}
	if rec.RequestTimeout {
		m.timeouts.WithLabelValues(append(s.labels[:4:4], "request")...).Inc()
	}
	if rec.Rejection != httproute.RejectNone {
		m.rejections.WithLabelValues(append(s.labels[:4:4], rec.Rejection.String())...).Inc()
	}
}

// ObserveMirrorDrop counts a request copy not sent.
func (m *Metrics) ObserveMirrorDrop(d httproute.MirrorDrop) {
	m.mirrorDrops.WithLabelValues(d.Route.String(), strconv.Itoa(d.Rule), d.Backend.String(), d.Reason).Inc()
}

// ObserveEjection counts an endpoint's ejection.
func (m *Metrics) ObserveEjection(e httproute.Ejection) {
	m.ejections.WithLabelValues(e.Endpoint, e.Reason).Inc()
}

// ObserveUpdate counts a compile; a successful one sets the problems
// gauge, the time of the last success and starts the series cache over
// (the rules it was keyed by are gone).
func (m *Metrics) ObserveUpdate(u httproute.ConfigUpdate) {
	if u.Err != nil {
		m.updates.WithLabelValues("failure").Inc()
		return
	}
	m.updates.WithLabelValues("success").Inc()
	m.problems.Set(float64(len(u.Problems)))
	m.lastSuccess.Set(float64(u.Start.UnixNano()) / 1e9)
	m.series.Store(&sync.Map{})
}

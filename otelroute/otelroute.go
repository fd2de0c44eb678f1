// Package otelroute traces and measures what an httproute.Router serves
// with OpenTelemetry: an httproute.Observer that starts a server span per
// request, named by its route, and a client span per attempt at a
// backend; propagates the W3C trace context and baggage to proxied
// backends (traceparent, baggage headers) and to in-process handlers (their
// request's context); and records the HTTP semantic conventions' server
// and client metrics.
//
//	obs, err := otelroute.New(otelroute.Options{TracerProvider: tp, MeterProvider: mp})
//	router, err := httproute.New(httproute.Config{..., Observer: obs})
//
// # Telemetry policies
//
// A request through a Gateway that an XTelemetryPolicy applies to
// (httproute.Record.Telemetry) is traced as the policy says: mode Disabled
// makes no span (the incoming trace context is passed on untouched);
// mode Enabled samples new traces at samplingRate and, with
// parentBasedSampling Enabled, follows a sampled parent at its rate (a
// parent that is not sampled is not), or with it Disabled decides at
// samplingRate whatever the parent; spanName names the server span;
// attributes are added to every span. Spans are made with
// Options.TracerProviderFor(policy), the provider a host builds with the
// policy's service.name (Resource) and an OTLP exporter to the policy's
// provider. A span otelroute decides to sample is started with a sampled
// parent, so that the provider's sampler should be
// sdktrace.ParentBased(sdktrace.AlwaysSample()) (the SDK's default) for
// the policy's rates to be the ones applied.
//
// # Attributes
//
// Server spans carry http.request.method, url.path, url.scheme,
// url.query, server.address, server.port, client.address,
// network.protocol.version, user_agent.original, http.route,
// http.response.status_code, http.request.body.size,
// http.response.body.size and error.type (5xx), plus the Router's
// httproute.gateway, httproute.listener, httproute.route,
// httproute.rule and httproute.response_flags. http.route is the rule's
// path match: the value of an Exact or RegularExpression match, the
// prefix followed by "/*" for a PathPrefix. Client spans carry
// http.request.method, server.address and server.port (the backendRef),
// network.peer.address and network.peer.port (the endpoint), url.full,
// http.request.resend_count, http.response.status_code, error.type and
// httproute.backend.
//
// # Metrics
//
// http.server.request.duration, http.server.active_requests,
// http.server.request.body.size, http.server.response.body.size and
// http.client.request.duration, with the attributes the HTTP semantic
// conventions require and recommend.
package otelroute

import (
	"context"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	xv1alpha1 "sigs.k8s.io/gateway-api/apisx/v1alpha1"

	"github.com/httproute/httproute"
)

// ScopeName is the instrumentation scope of otelroute's tracers and
// meters.
const ScopeName = "github.com/httproute/httproute/otelroute"

// Options configure an Observer.
type Options struct {
	// TracerProvider makes the spans; nil means otel.GetTracerProvider().
	TracerProvider trace.TracerProvider
	// MeterProvider makes the metrics; nil means otel.GetMeterProvider().
	MeterProvider metric.MeterProvider
	// Propagator reads the trace context of requests and writes it into
	// the requests sent to backends; nil means W3C Trace Context and
	// Baggage.
	Propagator propagation.TextMapPropagator
	// TracerProviderFor returns the TracerProvider of the requests an
	// XTelemetryPolicy applies to (see Resource); it is called once per
	// policy of each table (the host shuts down the providers of the
	// policies an Update replaces). Nil, or a nil result, means
	// TracerProvider.
	TracerProviderFor func(*httproute.TelemetryPolicy) trace.TracerProvider
}

// Observer is an httproute.Observer making spans and metrics. It is safe
// for concurrent use.
type Observer struct {
	tracer      trace.Tracer
	propagator  propagation.TextMapPropagator
	providerFor func(*httproute.TelemetryPolicy) trace.TracerProvider
	// caches are keyed by the Router's compiled objects (policies,
	// rules, backendRefs): they start over when its table changes.
	caches atomic.Pointer[caches]

	serverDuration, clientDuration metric.Float64Histogram
	requestSize, responseSize      metric.Int64Histogram
	active                         metric.Int64UpDownCounter
}

var (
	_ httproute.Observer       = (*Observer)(nil)
	_ httproute.RequestStarter = (*Observer)(nil)
	_ httproute.AttemptStarter = (*Observer)(nil)
	_ httproute.UpdateObserver = (*Observer)(nil)
)

// durationBuckets are the HTTP semantic conventions' advice for duration
// histograms, in seconds.
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// New returns an Observer.
func New(opts Options) (*Observer, error) {
	tp, mp := opts.TracerProvider, opts.MeterProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	o := &Observer{
		tracer:      tp.Tracer(ScopeName),
		propagator:  opts.Propagator,
		providerFor: opts.TracerProviderFor,
	}
	if o.propagator == nil {
		o.propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	}
	o.caches.Store(&caches{})
	meter := mp.Meter(ScopeName)
	var err error
	if o.serverDuration, err = meter.Float64Histogram("http.server.request.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of HTTP server requests."), metric.WithExplicitBucketBoundaries(durationBuckets...)); err != nil {
		return nil, err
	}
	if o.clientDuration, err = meter.Float64Histogram("http.client.request.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of HTTP client requests."), metric.WithExplicitBucketBoundaries(durationBuckets...)); err != nil {
		return nil, err
	}
	if o.requestSize, err = meter.Int64Histogram("http.server.request.body.size", metric.WithUnit("By"),
		metric.WithDescription("Size of HTTP server request bodies.")); err != nil {
		return nil, err
	}
	if o.responseSize, err = meter.Int64Histogram("http.server.response.body.size", metric.WithUnit("By"),
		metric.WithDescription("Size of HTTP server response bodies.")); err != nil {
		return nil, err
	}
	if o.active, err = meter.Int64UpDownCounter("http.server.active_requests", metric.WithUnit("{request}"),
		metric.WithDescription("Number of active HTTP server requests.")); err != nil {
		return nil, err
	}
	return o, nil
}

// Resource returns the OpenTelemetry resource of the spans of a
// TelemetryPolicy: the default resource with the policy's service.name
// when it names one.
func Resource(p *httproute.TelemetryPolicy) *resource.Resource {
	if p == nil || p.ServiceName == "" {
		return resource.Default()
	}
	r, err := resource.Merge(resource.Default(), resource.NewSchemaless(semconv.ServiceName(p.ServiceName)))
	if err != nil {
		// The default resource's schema differs from none: keep the
		// service name, which is what the policy asks for.
		return resource.NewSchemaless(semconv.ServiceName(p.ServiceName))
	}
	return r
}

// caches are the tracer of each policy and the metrics' attribute sets by
// what they are made of (setKey), so that recording a request allocates
// none.
type caches struct {
	tracers sync.Map // *httproute.TelemetryPolicy -> trace.Tracer
	sets    sync.Map // setKey -> metric.MeasurementOption
}

// ObserveUpdate starts the caches over when the Router installs a new
// table, whose compiled objects they would otherwise keep alive.
func (o *Observer) ObserveUpdate(u httproute.ConfigUpdate) {
	if u.Err == nil {
		o.caches.Store(&caches{})
	}
}

type traceKey struct{}

// requestTrace is what StartRequest leaves for the attempts and for
// ObserveRequest.
type requestTrace struct {
	// tracer made span, nil when the request is not traced here.
	tracer trace.Tracer
	span   trace.Span
	// policy are the policy's attributes, added to every span.
	policy []attribute.KeyValue
}

// tracerFor returns the tracer of a policy's requests.
func (o *Observer) tracerFor(p *httproute.TelemetryPolicy) trace.Tracer {
	if p == nil || o.providerFor == nil {
		return o.tracer
	}
	c := o.caches.Load()
	if t, ok := c.tracers.Load(p); ok {
		return t.(trace.Tracer)
	}
	t := o.tracer
	if tp := o.providerFor(p); tp != nil {
		t = tp.Tracer(ScopeName)
	}
	actual, _ := c.tracers.LoadOrStore(p, t)
	return actual.(trace.Tracer)
}

// StartRequest starts the request's server span, as a child of the trace
// context the request carries, unless its telemetry policy samples it
// out or disables tracing.
func (o *Observer) StartRequest(r *http.Request, rec *httproute.Record) *http.Request {
	ctx := o.propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	rt := &requestTrace{}
	attrs := serverAttributes(r, rec)
	o.active.Add(ctx, 1, o.activeSet(r))

	p := rec.Telemetry
	sampled := true
	if p != nil {
		switch p.Mode {
		case xv1alpha1.TracingModeDisabled:
			sampled = false
		case xv1alpha1.TracingModeEnabled:
			parent := trace.SpanContextFromContext(ctx)
			sampled = decide(p, parent)
			if parent.IsValid() {
				// The provider's ParentBased sampler follows the decision.
				ctx = trace.ContextWithRemoteSpanContext(ctx, parent.WithTraceFlags(parent.TraceFlags().WithSampled(sampled)))
			}
		default:
		}
		rt.policy = policyAttributes(p, r, attrs)
	}
	if sampled {
		name := spanName(r.Method, rec.Match)
		if p != nil && p.SpanName != "" {
			name = p.SpanName
		}
		rt.tracer = o.tracerFor(p)
		ctx, rt.span = rt.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithTimestamp(rec.Start), trace.WithAttributes(attrs...), trace.WithAttributes(rt.policy...))
	}
	return r.WithContext(context.WithValue(ctx, traceKey{}, rt))
}

// decide is a policy's sampling decision for a request whose incoming
// parent is parent.
func decide(p *httproute.TelemetryPolicy, parent trace.SpanContext) bool {
	if parent.IsValid() && p.ParentBased == xv1alpha1.ParentBasedSamplingModeEnabled {
		return parent.IsSampled() && draw(p.ParentSamplingRate)
	}
	if p.SamplingRate < 0 {
		if parent.IsValid() {
			return parent.IsSampled() // the implementation's default: follow the parent
		}
		return true
	}
	return draw(p.SamplingRate)
}

// draw reports true with probability rate.
func draw(rate float64) bool {
	switch {
	case rate >= 1:
		return true
	case rate <= 0:
		return false
	}
	return rand.Float64() < rate
}

// spanName is the server span's name: the method and the route
// (http.route), or the method alone when no rule matched.
func spanName(method string, m *httproute.Match) string {
	if m == nil {
		return method
	}
	return method + " " + httpRoute(m)
}

// httpRoute is the http.route of a rule's match.
func httpRoute(m *httproute.Match) string {
	if m.PathType == gatewayv1.PathMatchPathPrefix {
		return strings.TrimSuffix(m.PathValue, "/") + "/*"
	}
	return m.PathValue
}

func serverAttributes(r *http.Request, rec *httproute.Record) []attribute.KeyValue {
	attrs := make([]attribute.KeyValue, 0, 16)
	attrs = append(attrs, semconv.HTTPRequestMethodKey.String(r.Method), semconv.URLPath(r.URL.Path), semconv.URLScheme(scheme(r)))
	if r.URL.RawQuery != "" {
		attrs = append(attrs, semconv.URLQuery(r.URL.RawQuery))
	}
	host, port := splitHostPort(r.Host)
	if host != "" {
		attrs = append(attrs, semconv.ServerAddress(host))
	}
	if port > 0 {
		attrs = append(attrs, semconv.ServerPort(port))
	}
	if ip, _ := splitHostPort(r.RemoteAddr); ip != "" {
		attrs = append(attrs, semconv.ClientAddress(ip))
	}
	attrs = append(attrs, semconv.NetworkProtocolVersion(protocolVersion(r)))
	if ua := r.UserAgent(); ua != "" {
		attrs = append(attrs, semconv.UserAgentOriginal(ua))
	}
	if m := rec.Match; m != nil {
		attrs = append(attrs, semconv.HTTPRoute(httpRoute(m)), attribute.String("httproute.route", m.Route.String()))
		if m.Gateway.Name != "" {
			attrs = append(attrs, attribute.String("httproute.gateway", m.Gateway.String()),
				attribute.String("httproute.listener", string(m.Listener)))
		}
		rule := string(m.RuleName)
		if rule == "" {
			rule = strconv.Itoa(m.Rule)
		}
		attrs = append(attrs, attribute.String("httproute.rule", rule))
	}
	return attrs
}

// setKey identifies a metric attribute set: the server metrics' (rule,
// method, scheme, protocol, status, error), the active requests' (method,
// scheme) or an attempt's (backendRef, method, status, error).
type setKey struct {
	kind            uint8 // 0 server, 1 active, 2 client
	match           *httproute.Match
	backend         *httproute.BackendChoice
	method, errType string
	tls             bool
	protoMajor      int
	protoMinor      int
	status          int
}

// set returns the cached attribute set of key, making it with build the
// first time.
func (o *Observer) set(key setKey, build func() []attribute.KeyValue) metric.MeasurementOption {
	c := o.caches.Load()
	if s, ok := c.sets.Load(key); ok {
		return s.(metric.MeasurementOption)
	}
	set := attribute.NewSet(build()...)
	opt := metric.WithAttributeSet(set)
	actual, _ := c.sets.LoadOrStore(key, opt)
	return actual.(metric.MeasurementOption)
}

func (o *Observer) activeSet(r *http.Request) metric.MeasurementOption {
	return o.set(setKey{kind: 1, method: r.Method, tls: r.TLS != nil}, func() []attribute.KeyValue {
		return []attribute.KeyValue{semconv.HTTPRequestMethodKey.String(r.Method), semconv.URLScheme(scheme(r))}
	})
}

// serverSet is the attribute set of a request's server metrics.
func (o *Observer) serverSet(rec *httproute.Record, errType string) metric.MeasurementOption {
	r := rec.Request
	key := setKey{match: rec.Match, method: r.Method, tls: r.TLS != nil, protoMajor: r.ProtoMajor, protoMinor: r.ProtoMinor,
		status: rec.Status, errType: errType}
	return o.set(key, func() []attribute.KeyValue {
		attrs := []attribute.KeyValue{
			semconv.HTTPRequestMethodKey.String(r.Method), semconv.URLScheme(scheme(r)),
			semconv.NetworkProtocolVersion(protocolVersion(r)),
		}
		if rec.Match != nil {
			attrs = append(attrs, semconv.HTTPRoute(httpRoute(rec.Match)))
		}
		if rec.Status != 0 {
			attrs = append(attrs, semconv.HTTPResponseStatusCode(rec.Status))
		}
		if errType != "" {
			attrs = append(attrs, semconv.ErrorTypeKey.String(errType))
		}
		return attrs
	})
}

// policyAttributes are a policy's span attributes for a request: literal
// values, request headers, and copies of the span's own attributes.
func policyAttributes(p *httproute.TelemetryPolicy, r *http.Request, span []attribute.KeyValue) []attribute.KeyValue {
	var out []attribute.KeyValue
	for _, a := range p.Attributes {
		switch a.Source {
		case xv1alpha1.AttributeSourceLiteral:
			out = append(out, attribute.String(a.Name, a.Value))
		case xv1alpha1.AttributeSourceHeader:
			if v := r.Header.Values(a.Header); len(v) > 0 {
				out = append(out, attribute.String(a.Name, strings.Join(v, ", ")))
			}
		case xv1alpha1.AttributeSourceAttribute:
			for _, kv := range span {
				if string(kv.Key) == a.Key {
					out = append(out, attribute.KeyValue{Key: attribute.Key(a.Name), Value: kv.Value})
					break
				}
			}
		default:
		}
	}
	return out
}

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

func protocolVersion(r *http.Request) string {
	switch {
	case r.ProtoMajor == 2:
		return "2"
	case r.ProtoMajor == 3:
		return "3"
	case r.ProtoMajor == 1 && r.ProtoMinor == 0:
		return "1.0"
	}
	return "1.1"
}

// splitHostPort splits "host:port" (or a bare host), port 0 when absent.
func splitHostPort(hostport string) (string, int) {
	host, p, err := net.SplitHostPort(hostport)
	if err != nil {
		return hostport, 0
	}
	port, _ := strconv.Atoi(p)
	return host, port
}

// StartAttempt starts the client span of an attempt, as a child of the
// request's span, and writes its trace context into the attempt's
// headers and context.
func (o *Observer) StartAttempt(r *http.Request, rec *httproute.Record) (*http.Request, func(*httproute.Attempt)) {
	rt, _ := r.Context().Value(traceKey{}).(*requestTrace)
	if rt == nil || rt.span == nil {
		return r, nil
	}
	n := len(rec.Attempts)
	a := &rec.Attempts[n-1]
	ref := a.Backend.Ref
	host := ref.Name + "." + ref.Namespace
	attrs := []attribute.KeyValue{
		semconv.HTTPRequestMethodKey.String(r.Method), semconv.ServerAddress(host),
		attribute.String("httproute.backend", ref.String()),
	}
	full := "http://" + host
	if ref.Port != 0 {
		attrs = append(attrs, semconv.ServerPort(int(ref.Port)))
		full += ":" + strconv.Itoa(int(ref.Port))
	}
	attrs = append(attrs, semconv.URLFull(full+r.URL.RequestURI()))
	if n > 1 {
		attrs = append(attrs, semconv.HTTPRequestResendCount(n-1))
	}
	ctx, span := rt.tracer.Start(r.Context(), r.Method, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithTimestamp(rec.Start.Add(a.Start)), trace.WithAttributes(attrs...), trace.WithAttributes(rt.policy...))
	r2 := r.WithContext(ctx)
	r2.Header = r.Header.Clone()
	o.propagator.Inject(ctx, propagation.HeaderCarrier(r2.Header))
	start, method, backend := rec.Start, r.Method, a.Backend
	return r2, func(a *httproute.Attempt) {
		var result []attribute.KeyValue
		if a.Endpoint != "" {
			h, p := splitHostPort(a.Endpoint)
			result = append(result, semconv.NetworkPeerAddress(h), semconv.NetworkPeerPort(p))
		}
		if a.Status != 0 {
			result = append(result, semconv.HTTPResponseStatusCode(a.Status))
		}
		errType := ""
		switch {
		case a.Class != httproute.ErrorNone:
			errType = a.Class.String()
			span.SetStatus(codes.Error, a.Err.Error())
		case a.Status >= 400:
			errType = strconv.Itoa(a.Status)
			span.SetStatus(codes.Error, "")
		}
		if errType != "" {
			result = append(result, semconv.ErrorTypeKey.String(errType))
		}
		span.SetAttributes(result...)
		span.End(trace.WithTimestamp(start.Add(a.Start + a.Duration)))
		set := o.set(setKey{kind: 2, backend: backend, method: method, status: a.Status, errType: errType}, func() []attribute.KeyValue {
			attrs := []attribute.KeyValue{semconv.HTTPRequestMethodKey.String(method), semconv.ServerAddress(host)}
			if ref.Port != 0 {
				attrs = append(attrs, semconv.ServerPort(int(ref.Port)))
			}
			if a.Status != 0 {
				attrs = append(attrs, semconv.HTTPResponseStatusCode(a.Status))
			}
			if errType != "" {
				attrs = append(attrs, semconv.ErrorTypeKey.String(errType))
			}
			return attrs
		})
		o.clientDuration.Record(context.Background(), a.Duration.Seconds(), set)
	}
}

// ObserveRequest ends the request's span and records the server metrics.
func (o *Observer) ObserveRequest(rec *httproute.Record) {
	ctx := rec.Request.Context()
	rt, _ := ctx.Value(traceKey{}).(*requestTrace)
	if rt == nil {
		// Not started here (a record made without StartRequest).
		return
	}
	errType := ""
	if rec.Status >= 500 {
		errType = strconv.Itoa(rec.Status)
	} else if rec.Status == 0 {
		errType = rec.Flags.String()
	}
	if rt.span != nil {
		if rec.Status != 0 {
			rt.span.SetAttributes(semconv.HTTPResponseStatusCode(rec.Status))
		}
		if errType != "" {
			rt.span.SetAttributes(semconv.ErrorTypeKey.String(errType))
		}
		rt.span.SetAttributes(semconv.HTTPRequestBodySize(int(rec.BytesIn)), semconv.HTTPResponseBodySize(int(rec.BytesOut)),
			attribute.String("httproute.response_flags", rec.Flags.String()))
		if rec.Status >= 500 || rec.Status == 0 {
			rt.span.SetStatus(codes.Error, rec.Flags.String())
		}
		rt.span.End(trace.WithTimestamp(rec.Start.Add(rec.Duration)))
	}
	set := o.serverSet(rec, errType)
	bg := context.Background()
	o.serverDuration.Record(bg, rec.Duration.Seconds(), set)
	o.requestSize.Record(bg, rec.BytesIn, set)
	o.responseSize.Record(bg, rec.BytesOut, set)
	o.active.Add(bg, -1, o.activeSet(rec.Request))
}

package httproute

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
)

// AccessLog is an Observer that writes one log record per request to a
// slog.Logger, with the fields an Envoy access log has: text or JSON, as
// the logger's handler writes them. The record's time is when the request
// started.
//
//	log, _ := httproute.NewAccessLog(slog.New(slog.NewJSONHandler(os.Stdout, nil)), httproute.AccessLogOptions{})
//	router, err := httproute.New(httproute.Config{..., Observer: log})
type AccessLog struct {
	logger *slog.Logger
	level  slog.Level
	msg    string
	fields []accessField
	// firstByte is set when a field is the upstream service time.
	firstByte bool
}

// AccessLogOptions configure an AccessLog.
type AccessLogOptions struct {
	// Level is the level of the records; the zero value is
	// slog.LevelInfo.
	Level slog.Level
	// Message is the message of the records; "" means "request".
	Message string
	// Fields are the fields of each record, in order, by name: those of
	// AccessLogFields, or "request_header:<name>" for a request header
	// (keyed by its lower-case name). Nil means DefaultAccessLogFields.
	// Fields without a value (no route, no endpoint ...) are left out.
	Fields []string
}

// AccessLogFields are the fields an AccessLog can write: what the
// client asked (method, authority, path, protocol, user agent, forwarding
// headers and its address), what served it (gateway, listener, route,
// rule, backendRef, endpoint, attempts), and how (response code and
// flags, sizes, durations, the failure of the last attempt and the limit
// that refused it).
var AccessLogFields = []string{
	"method", "authority", "path", "protocol", "response_code", "response_flags",
	"bytes_received", "bytes_sent", "duration", "upstream_service_time",
	"x_forwarded_for", "user_agent", "x_request_id", "downstream_remote_address",
	"gateway", "listener", "route", "rule", "backend", "upstream_host", "attempts",
	"upstream_failure", "rejection", "traceparent",
}

// DefaultAccessLogFields are the fields of an AccessLog whose options name
// none: Envoy Gateway's default access log, in the Router's terms.
var DefaultAccessLogFields = []string{
	"method", "authority", "path", "protocol", "response_code", "response_flags",
	"bytes_received", "bytes_sent", "duration", "upstream_service_time",
	"x_forwarded_for", "user_agent", "x_request_id", "downstream_remote_address",
	"gateway", "listener", "route", "rule", "backend", "upstream_host", "attempts",
}

// accessField returns the attribute of one field of a record; ok is false
// when the record has no value for it.
type accessField func(rec *Record) (a slog.Attr, ok bool)

// NewAccessLog returns an AccessLog writing to logger. It fails on a
// field name it does not know.
func NewAccessLog(logger *slog.Logger, opts AccessLogOptions) (*AccessLog, error) {
	l := &AccessLog{logger: logger, level: opts.Level, msg: opts.Message}
	if l.logger == nil {
		l.logger = slog.Default()
	}
	if l.msg == "" {
		l.msg = "request"
	}
	names := opts.Fields
	if names == nil {
		names = DefaultAccessLogFields
	}
	for _, name := range names {
		f, err := accessFieldFor(name)
		if err != nil {
			return nil, err
		}
		l.fields = append(l.fields, f)
		l.firstByte = l.firstByte || name == "upstream_service_time"
	}
	return l, nil
}

// ObservesFirstByte reports whether the log's fields include
// upstream_service_time (see FirstByteObserver).
func (l *AccessLog) ObservesFirstByte() bool { return l.firstByte }

func accessFieldFor(name string) (accessField, error) {
	if h, ok := strings.CutPrefix(name, "request_header:"); ok && h != "" {
		return requestHeader(strings.ToLower(h), http.CanonicalHeaderKey(h)), nil
	}
	switch name {
	case "method":
		return str(name, func(r *Record) string { return r.Request.Method }), nil
	case "authority":
		return str(name, func(r *Record) string { return r.Request.Host }), nil
	case "path":
		return str(name, func(r *Record) string { return r.Request.URL.RequestURI() }), nil
	case "protocol":
		return str(name, func(r *Record) string { return r.Request.Proto }), nil
	case "response_code":
		return func(r *Record) (slog.Attr, bool) { return slog.Int(name, r.Status), true }, nil
	case "response_flags":
		return func(r *Record) (slog.Attr, bool) { return slog.String(name, r.Flags.String()), true }, nil
	case "bytes_received":
		return func(r *Record) (slog.Attr, bool) { return slog.Int64(name, r.BytesIn), true }, nil
	case "bytes_sent":
		return func(r *Record) (slog.Attr, bool) { return slog.Int64(name, r.BytesOut), true }, nil
	case "duration":
		return func(r *Record) (slog.Attr, bool) { return slog.Duration(name, r.Duration), true }, nil
	case "upstream_service_time":
		return func(r *Record) (slog.Attr, bool) {
			return slog.Duration(name, r.UpstreamFirstByte), r.UpstreamFirstByte != 0
		}, nil
	case "x_forwarded_for":
		return requestHeader(name, "X-Forwarded-For"), nil
	case "user_agent":
		return requestHeader(name, "User-Agent"), nil
	case "x_request_id":
		return requestHeader(name, "X-Request-Id"), nil
	case "traceparent":
		return requestHeader(name, "Traceparent"), nil
	case "downstream_remote_address":
		return str(name, func(r *Record) string { return r.Request.RemoteAddr }), nil
	case "gateway":
		return str(name, func(r *Record) string {
			if r.Match == nil || r.Match.Gateway.Name == "" {
				return ""
			}
			return r.Match.Gateway.String()
		}), nil
	case "listener":
		return str(name, func(r *Record) string {
			if r.Match == nil {
				return ""
			}
			return string(r.Match.Listener)
		}), nil
	case "route":
		return str(name, func(r *Record) string {
			if r.Match == nil {
				return ""
			}
			return r.Match.Route.String()
		}), nil
	case "rule":
		return func(r *Record) (slog.Attr, bool) {
			switch {
			case r.Match == nil:
				return slog.Attr{}, false
			case r.Match.RuleName != "":
				return slog.String(name, string(r.Match.RuleName)), true
			}
			return slog.Int(name, r.Match.Rule), true
		}, nil
	case "backend":
		return str(name, func(r *Record) string {
			if r.Backend == nil {
				return ""
			}
			return r.Backend.Ref.String()
		}), nil
	case "upstream_host":
		return str(name, func(r *Record) string { return r.Endpoint }), nil
	case "attempts":
		return func(r *Record) (slog.Attr, bool) {
			return slog.Int(name, len(r.Attempts)), len(r.Attempts) > 0
		}, nil
	case "upstream_failure":
		return str(name, func(r *Record) string {
			if n := len(r.Attempts); n > 0 && r.Attempts[n-1].Err != nil {
				return r.Attempts[n-1].Err.Error()
			}
			return ""
		}), nil
	case "rejection":
		return str(name, func(r *Record) string { return r.Rejection.String() }), nil
	}
	return nil, fmt.Errorf("httproute: access log field %q: Unsupported value: want one of %s, or request_header:<name>",
		name, strings.Join(AccessLogFields, ", "))
}

// str is a field with a string value, left out when empty.
func str(name string, value func(*Record) string) accessField {
	return func(r *Record) (slog.Attr, bool) {
		v := value(r)
		return slog.String(name, v), v != ""
	}
}

// requestHeader is the field of a request header, joined with ", " when
// it has several values.
func requestHeader(key, header string) accessField {
	return func(r *Record) (slog.Attr, bool) {
		switch vs := r.Request.Header[header]; len(vs) {
		case 0:
			return slog.Attr{}, false
		case 1:
			return slog.String(key, vs[0]), true
		default:
			return slog.String(key, strings.Join(vs, ", ")), true
		}
	}
}

// ObserveRequest writes the record of one request.
func (l *AccessLog) ObserveRequest(rec *Record) {
	if rec.Request == nil {
		return // not a record a Router made
	}
	ctx := rec.Request.Context()
	h := l.logger.Handler()
	if !h.Enabled(ctx, l.level) {
		return
	}
	// The buffer stays on the stack as long as it is not handed to the
	// fields (function values): the record copies the attributes once.
	// It holds every field of AccessLogFields and a few request headers;
	// more fields than that grow it on the heap.
	var buf [32]slog.Attr
	attrs := buf[:0]
	for _, f := range l.fields {
		if a, ok := f(rec); ok {
			attrs = append(attrs, a)
		}
	}
	r := slog.NewRecord(rec.Start, l.level, l.msg, 0)
	r.AddAttrs(attrs...)
	_ = h.Handle(ctx, r)
}

package httproute

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/httproute/httproute/internal/duration"
)

// resilience is the compiled timeouts of a rule.
type resilience struct {
	// request bounds the whole transaction, 0 for none.
	request time.Duration
	// backendRequest bounds each attempt at a backend, 0 for none.
	backendRequest time.Duration
}

func (rc *ruleCompiler) resilience() (*resilience, *Error) {
	res := &resilience{}
	path := rc.path
	if t := rc.spec.Timeouts; t != nil {
		tp := path.Child("timeouts")
		if t.Request != nil {
			d, err := duration.Parse(string(*t.Request))
			if err != nil {
				return nil, rc.c.routeError(rc.route, reasonUnsupportedValue, field.Invalid(tp.Child("request"), *t.Request, err.Error()))
			}
			res.request = d
		}
		if t.BackendRequest != nil {
			d, err := duration.Parse(string(*t.BackendRequest))
			if err != nil {
				return nil, rc.c.routeError(rc.route, reasonUnsupportedValue, field.Invalid(tp.Child("backendRequest"), *t.BackendRequest, err.Error()))
			}
			res.backendRequest = d
		}
		if res.request != 0 && res.backendRequest > res.request {
			return nil, rc.c.routeError(rc.route, reasonUnsupportedValue, field.Invalid(tp, string(*t.BackendRequest),
				"backendRequest timeout cannot be longer than request timeout"))
		}
	}
	if rc.spec.Retry != nil {
		return nil, rc.c.routeError(rc.route, reasonUnsupportedValue, field.Forbidden(path.Child("retry"), "retry is not supported yet"))
	}
	if rc.spec.SessionPersistence != nil {
		return nil, rc.c.routeError(rc.route, reasonUnsupportedValue, field.Forbidden(path.Child("sessionPersistence"), "sessionPersistence is not supported yet"))
	}
	return res, nil
}

// wrapRequest bounds the whole handling of a request by the request
// timeout.
func (res *resilience) wrapRequest(h http.Handler, _ *env) http.Handler {
	if res.request <= 0 {
		return h
	}
	return timeoutHandler{h: h, d: res.request}
}

// wrapBackends bounds each backend attempt by the backendRequest timeout.
func (res *resilience) wrapBackends(h http.Handler, _ *env) http.Handler {
	if res.backendRequest <= 0 {
		return h
	}
	return timeoutHandler{h: h, d: res.backendRequest}
}

type timeoutHandler struct {
	h http.Handler
	d time.Duration
}

func (t timeoutHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), t.d)
	defer cancel()
	t.h.ServeHTTP(w, r.WithContext(ctx))
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

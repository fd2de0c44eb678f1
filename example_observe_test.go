package httproute_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/httproute/httproute"
)

// exampleRouter builds a Router serving the route "default/shop" (/api to
// the Service api, the rest to web, both in process) with obs.
func exampleRouter(obs httproute.Observer) *httproute.Router {
	var route gatewayv1.HTTPRoute
	_ = yaml.Unmarshal([]byte(`
metadata: {name: shop, namespace: default}
spec:
  rules:
  - name: api
    matches: [{path: {type: PathPrefix, value: /api}}]
    backendRefs: [{name: api, port: 8080}]
  - backendRefs: [{name: web, port: 80}]
`), &route)
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") })
	router, err := httproute.New(httproute.Config{
		HTTPRoutes: []*gatewayv1.HTTPRoute{&route},
		Services: httproute.Services{
			{Namespace: "default", Name: "api", Port: 8080}: httproute.InProcess(hello),
			{Namespace: "default", Name: "web", Port: 80}:   httproute.InProcess(hello),
		},
		Observer: obs,
	})
	if err != nil {
		panic(err)
	}
	return router
}

// An Observer gets a Record of every request: which rule and backendRef
// served it, each attempt, the status, sizes, durations and flags.
func ExampleObserverFunc() {
	router := exampleRouter(httproute.ObserverFunc(func(rec *httproute.Record) {
		route := "-"
		if rec.Match != nil {
			route = fmt.Sprintf("%s rule %d", rec.Match.Route, rec.Match.Rule)
		}
		fmt.Println(rec.Request.URL.Path, rec.Status, route, rec.Flags, len(rec.Attempts), "attempt(s)")
	}))
	for _, path := range []string{"/api/orders", "/"} {
		router.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", path, nil))
	}
	// Output:
	// /api/orders 200 default/shop rule 0 - 1 attempt(s)
	// / 200 default/shop rule 1 - 1 attempt(s)
}

// An access log writes one line per request through slog, in the
// handler's format, with Envoy-like fields.
func ExampleNewAccessLog() {
	// Times and durations vary: leave them out of the example's output.
	h := slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey || a.Key == "duration" {
			return slog.Attr{}
		}
		return a
	}})
	log, err := httproute.NewAccessLog(slog.New(h), httproute.AccessLogOptions{
		Fields: []string{"method", "path", "response_code", "response_flags", "bytes_sent", "duration", "route", "rule", "backend"},
	})
	if err != nil {
		panic(err)
	}
	router := exampleRouter(log)
	router.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/api/orders?page=2", nil))
	// Output:
	// level=INFO msg=request method=GET path="/api/orders?page=2" response_code=200 response_flags=- bytes_sent=5 route=default/shop rule=api backend=default/api:8080
}

// Middleware around a Router learns what served each request with a
// Record it places in the request's context: the Router fills it in
// before ServeHTTP returns, with or without an Observer.
func ExampleWithRecord() {
	router := exampleRouter(nil)
	logRoutes := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var rec httproute.Record
			next.ServeHTTP(w, r.WithContext(httproute.WithRecord(r.Context(), &rec)))
			if rec.Match == nil {
				fmt.Println(r.URL.Path, "matched no rule:", rec.Status, rec.Flags)
				return
			}
			fmt.Println(r.URL.Path, "served by", rec.Match.Route, "rule", rec.Match.RuleName, "via", rec.Backend.Ref, "with", rec.Status)
		})
	}
	h := logRoutes(router)
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/api/orders", nil))
	// Output:
	// /api/orders served by default/shop rule api via default/api:8080 with 200
}

// Config.NotFound serves what no rule matches: here the legacy mux that
// the routes replace, path by path.
func ExampleConfig_notFound() {
	legacy := http.NewServeMux()
	legacy.HandleFunc("/old/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "legacy "+r.URL.Path) })
	var route gatewayv1.HTTPRoute
	_ = yaml.Unmarshal([]byte(`
metadata: {name: new, namespace: default}
spec:
  rules:
  - matches: [{path: {type: PathPrefix, value: /new}}]
    backendRefs: [{name: new, port: 80}]
`), &route)
	router, err := httproute.New(httproute.Config{
		HTTPRoutes: []*gatewayv1.HTTPRoute{&route},
		Services: httproute.Services{{Namespace: "default", Name: "new", Port: 80}: httproute.InProcess(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "new "+r.URL.Path)
		}))},
		NotFound: legacy,
	})
	if err != nil {
		panic(err)
	}
	for _, path := range []string{"/new/x", "/old/y", "/gone"} {
		w := httptest.NewRecorder()
		router.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		fmt.Printf("%s: %d %q\n", path, w.Code, w.Body.String())
	}
	// Output:
	// /new/x: 200 "new /new/x"
	// /old/y: 200 "legacy /old/y"
	// /gone: 404 "404 page not found\n"
}

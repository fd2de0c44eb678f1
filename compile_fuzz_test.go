package httproute_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/httproute/httproute"
)

// FuzzCompile feeds arbitrary Gateways and HTTPRoutes (decoded leniently
// from fuzz input, so any field may hold any value the Go types allow) to
// New and serves a request through the result: compiling and serving bad
// route data must never panic.
func FuzzCompile(f *testing.F) {
	f.Add(`{"metadata":{"name":"r","namespace":"d"},"spec":{"rules":[{"matches":[{"path":{"type":"RegularExpression","value":"/(a"}}]}]}}`,
		`{"metadata":{"name":"g","namespace":"d"},"spec":{"listeners":[{"name":"h","port":80,"protocol":"HTTP"}]}}`, "/a")
	f.Add(`{"metadata":{"name":"r","namespace":"d"},"spec":{"hostnames":["*.*"],"rules":[{"filters":[{"type":"URLRewrite","urlRewrite":{"path":{"type":"ReplacePrefixMatch"}}}],"backendRefs":[{"name":"x","weight":-5}]}]}}`,
		`{"metadata":{"name":"g","namespace":"d"},"spec":{"listeners":[{"name":"h","port":0,"protocol":"HTTPS","tls":{"mode":"Passthrough"}}]}}`, "//..//")
	f.Add(`{"metadata":{"name":"r","namespace":"d"},"spec":{"parentRefs":[{"name":"g","sectionName":"h"}],"rules":[{"timeouts":{"request":"1x"},"retry":{"attempts":0,"codes":[99]},"sessionPersistence":{"type":"Nope"}}]}}`,
		`{"metadata":{"name":"g","namespace":"d"},"spec":{"listeners":[{"name":"h","port":80,"protocol":"HTTP","hostname":"*.x","allowedRoutes":{"namespaces":{"from":"Selector","selector":{"matchExpressions":[{"key":"a","operator":"Bogus"}]}},"kinds":[{"kind":"X"}]}}]}}`, "/?x=%zz")
	f.Add(`{"metadata":{"name":"r","namespace":"d"},"spec":{"rules":[{"filters":[{"type":"RequestRedirect","requestRedirect":{"statusCode":305,"port":0,"path":{"type":"ReplaceFullPath"}}},{"type":"CORS","cors":{"allowOrigins":["*://*"]}},{"type":"RequestMirror","requestMirror":{"backendRef":{"name":""},"percent":200}}]}]}}`,
		``, "/")
	f.Fuzz(func(t *testing.T, routeJSON, gatewayJSON, target string) {
		var cfg httproute.Config
		var hr gatewayv1.HTTPRoute
		if yaml.Unmarshal([]byte(routeJSON), &hr) == nil {
			cfg.HTTPRoutes = append(cfg.HTTPRoutes, &hr)
		}
		var gw gatewayv1.Gateway
		if gatewayJSON != "" && yaml.Unmarshal([]byte(gatewayJSON), &gw) == nil {
			cfg.Gateways = append(cfg.Gateways, &gw)
		}
		cfg.Services = httproute.ServiceResolverFunc(func(ref httproute.BackendRef) (httproute.Backend, error) {
			return httproute.Handler(http.NotFoundHandler()), nil
		})
		rt, err := httproute.New(cfg)
		if err != nil {
			return // refused as a whole (nil or duplicate objects): fine
		}
		_ = rt.Status()
		if !strings.HasPrefix(target, "/") {
			target = "/" + target
		}
		req := httptest.NewRequest("GET", "http://x.test/", nil)
		req.URL.Path = target
		rec := httptest.NewRecorder()
		rt.ServeHTTP(rec, req)
		if rec.Code < 200 || rec.Code > 599 {
			t.Fatalf("status %d", rec.Code)
		}
	})
}

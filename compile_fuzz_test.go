package httproute_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
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
		`{"metadata":{"name":"g","namespace":"d"},"spec":{"listeners":[{"name":"h","port":80,"protocol":"HTTP"}]}}`, "/a", uint8(0))
	f.Add(`{"metadata":{"name":"r","namespace":"d"},"spec":{"hostnames":["*.*"],"rules":[{"filters":[{"type":"URLRewrite","urlRewrite":{"path":{"type":"ReplacePrefixMatch"}}}],"backendRefs":[{"name":"x","weight":-5}]}]}}`,
		`{"metadata":{"name":"g","namespace":"d"},"spec":{"listeners":[{"name":"h","port":0,"protocol":"HTTPS","tls":{"mode":"Passthrough"}}]}}`, "//..//", uint8(0))
	f.Add(`{"metadata":{"name":"r","namespace":"d"},"spec":{"parentRefs":[{"name":"g","sectionName":"h"}],"rules":[{"timeouts":{"request":"1x"},"retry":{"attempts":0,"codes":[99]},"sessionPersistence":{"type":"Nope"}}]}}`,
		`{"metadata":{"name":"g","namespace":"d"},"spec":{"listeners":[{"name":"h","port":80,"protocol":"HTTP","hostname":"*.x","allowedRoutes":{"namespaces":{"from":"Selector","selector":{"matchExpressions":[{"key":"a","operator":"Bogus"}]}},"kinds":[{"kind":"X"}]}}]}}`, "/?x=%zz", uint8(0))
	f.Add(`{"metadata":{"name":"r","namespace":"d"},"spec":{"rules":[{"filters":[{"type":"RequestRedirect","requestRedirect":{"statusCode":305,"port":0,"path":{"type":"ReplaceFullPath"}}},{"type":"CORS","cors":{"allowOrigins":["*://*"]}},{"type":"RequestMirror","requestMirror":{"backendRef":{"name":""},"percent":200}}]}]}}`,
		``, "/", uint8(0))
	f.Add(`{"metadata":{"name":"r","namespace":"d"},"spec":{"rules":[{"backendRefs":[{"group":"example.com","kind":"Static","name":"s"},{"name":"svc","port":80}]}]}}`,
		``, "/", uint8(3))
	f.Fuzz(func(t *testing.T, routeJSON, gatewayJSON, target string, draw uint8) {
		cfg := httproute.Config{Logger: slog.New(slog.DiscardHandler)}
		var hr gatewayv1.HTTPRoute
		if yaml.Unmarshal([]byte(routeJSON), &hr) == nil {
			cfg.HTTPRoutes = append(cfg.HTTPRoutes, &hr)
		}
		var gw gatewayv1.Gateway
		if gatewayJSON != "" && yaml.Unmarshal([]byte(gatewayJSON), &gw) == nil {
			cfg.Gateways = append(cfg.Gateways, &gw)
		}
		// draw picks what the host hands over: a working backend, a nil
		// or zero one, or a resolver and an extension that panic.
		bad := badBackends()
		names := make([]string, 0, len(bad))
		for n := range bad {
			names = append(names, n)
		}
		slices.Sort(names)
		backend := func() httproute.Backend {
			switch i := int(draw) % (len(names) + 2); {
			case i < len(names):
				return bad[names[i]]
			case i == len(names):
				panic("host bug")
			default:
				return httproute.Handler(http.NotFoundHandler())
			}
		}
		cfg.Services = httproute.ServiceResolverFunc(func(ref httproute.BackendRef) (httproute.Backend, error) {
			return backend(), nil
		})
		cfg.Extensions = []httproute.Extension{{
			Kind:    schemaGVK("example.com", "v1", "Static"),
			Backend: func(ref httproute.BackendRef) (httproute.Backend, error) { return backend(), nil },
		}}
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

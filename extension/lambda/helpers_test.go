package lambda_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/extension/lambda"
)

// manifests decodes a multi-document YAML of Backends, HTTPRoutes and
// Secrets into a Config (Strict, so that any problem fails the test) and
// the Secrets it holds.
func manifests(t testing.TB, docs string) (httproute.Config, []*corev1.Secret) {
	t.Helper()
	var cfg httproute.Config
	var secrets []*corev1.Secret
	for _, doc := range strings.Split(docs, "\n---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			t.Fatalf("decoding %q: %v", doc, err)
		}
		var obj any
		switch tm.Kind {
		case "Backend":
			b := lambda.New(lambda.Options{}).BackendExtension().New()
			cfg.Objects = append(cfg.Objects, b)
			obj = b
		case "HTTPRoute":
			r := &gatewayv1.HTTPRoute{}
			cfg.HTTPRoutes = append(cfg.HTTPRoutes, r)
			obj = r
		case "Secret":
			s := &corev1.Secret{}
			secrets = append(secrets, s)
			obj = s
		default:
			t.Fatalf("unexpected kind %q", tm.Kind)
		}
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			t.Fatalf("decoding %s: %v", tm.Kind, err)
		}
	}
	cfg.Secrets = secrets
	cfg.Strict = true
	return cfg, secrets
}

// newRouter builds a Router from YAML manifests with the extensions of
// opts.
func newRouter(t testing.TB, opts lambda.Options, docs string) *httproute.Router {
	t.Helper()
	cfg, _ := manifests(t, docs)
	cfg.Extensions = lambda.Extensions(opts)
	cfg.IgnoreParentRefs = true // the seed's routes name a Gateway the tests do not load
	rt, err := httproute.New(cfg)
	if err != nil {
		t.Fatalf("httproute.New: %v", err)
	}
	return rt
}

// routeTo is an HTTPRoute in namespace default sending every request to
// the Backend named name.
func routeTo(name string) string {
	return `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: route
  namespace: default
spec:
  rules:
  - backendRefs:
    - group: gateway.kgateway.dev
      kind: Backend
      name: ` + name + `
`
}

// serve sends one request through h and returns the recorded response.
func serve(t testing.TB, h http.Handler, method, target string, body []byte, header http.Header) *http.Response {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req := httptest.NewRequest(method, target, r)
	for k, vs := range header {
		req.Header[k] = vs
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func readAll(t testing.TB, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

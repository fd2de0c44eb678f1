package httproutetest_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/extension/directresponse"
	"github.com/httproute/httproute/httproutetest"
	"github.com/httproute/httproute/validation"
)

const routeYAML = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r}
spec:
  rules:
  - filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set: [{name: X-Added, value: "yes"}]
    backendRefs:
    - {name: web, port: 80}
`

func TestEnvRecordsWhatTheBackendReceived(t *testing.T) {
	for _, network := range []bool{false, true} {
		env := httproutetest.New(t, httproutetest.Options{Network: network}, routeYAML)
		env.Run(t, []httproutetest.Case{{
			Name:    "echo",
			Request: httproutetest.Request{Method: "POST", Host: "a.example", Path: "/p?q=1", Body: "b"},
			Want: httproutetest.Want{Status: 200, Backend: "default/web:80", BackendMethod: "POST", BackendHost: "a.example",
				BackendPath: "/p?q=1", BackendBody: "b", BackendHeader: map[string]string{"X-Added": "yes"},
				Header: map[string]string{"Content-Type": "application/json"}},
		}})
		if got := len(env.Backend("default", "web", 80).Received()); got != 1 {
			t.Errorf("network %v: backend received %d requests", network, got)
		}
	}
}

func TestCheckReportsDifferences(t *testing.T) {
	env := httproutetest.New(t, httproutetest.Options{}, routeYAML)
	ex := env.Do(httproutetest.Request{Path: "/x", Header: http.Header{"X-Drop": {"1"}}})
	got := httproutetest.Check(ex, httproutetest.Want{
		Status: 404, Backend: "other", BackendPath: "/y", BackendAbsentHeader: []string{"X-Drop"},
		Header: map[string]string{"X-Missing": "v"},
	})
	want := []string{
		`status = 200, want 404 (body "{\"Method\":\"GET\",\"Host\":\"example.com\",\"Path\":\"/x\",\"Header\":{\"Httproutetest-Id\":[\"1\"],\"X-Added\":[\"yes\"],\"X-Drop\":[\"1\"]},\"Body\":\"\"}\n")`,
		`response header X-Missing = "", want "v"`,
		`backend = "default/web:80", want "other"`,
		`backend path = "/x", want "/y"`,
		`backend header X-Drop = ["1"], want it absent`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("Check =\n%q\nwant\n%q", got, want)
	}
}

// TestDecodeAsProduction checks that manifests are read as manifest.Load
// reads them in production: strictly, validated by the standard channel's
// CRDs, core kinds loaded as the loader loads them.
func TestDecodeAsProduction(t *testing.T) {
	const rule = "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\nspec:\n  rules:\n  - matches:\n    - path: {type: %s, value: /a}\n"
	tests := []struct {
		name      string
		opts      httproutetest.Options
		manifests []string
		want      string
	}{{
		name:      "a misspelt field",
		manifests: []string{"apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\nspec: {rulez: []}\n"},
		want:      `manifests[0]:4:8: httproute default/r: strict decoding error: unknown field "spec.rulez"; did you mean "rules"?`,
	}, {
		name:      "a kind nobody registered",
		manifests: []string{"apiVersion: example.com/v1\nkind: Thing\nmetadata: {name: r}\n"},
		want:      `manifests[0]:2:1: thing r: kind: Invalid value: "Thing": no kind Thing is registered for apiVersion "example.com/v1"; register it with an httproute.Extension`,
	}, {
		name:      "type: Prefix, which the CRD does not allow",
		manifests: []string{"", fmt.Sprintf(rule, "Prefix")},
		want:      `manifests[1]:7:14: httproute default/r: spec.rules[0].matches[0].path.type: Unsupported value: "Prefix": supported values: "Exact", "PathPrefix", "RegularExpression"` + "\n" + `manifests[1]:1:1: httproute default/r: <nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation`,
	}, {
		name:      "type: Prefix without validation: the Router's problem",
		opts:      httproutetest.Options{NoValidation: true},
		manifests: []string{fmt.Sprintf(rule, "Prefix")},
	}, {
		name:      "type: PathPrefix",
		manifests: []string{fmt.Sprintf(rule, "PathPrefix")},
	}, {
		name:      "an experimental field in the standard channel",
		manifests: []string{"apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\nspec:\n  rules:\n  - sessionPersistence: {type: Cookie}\n"},
		want:      `manifests[0]:6:5: httproute default/r: strict decoding error: unknown field "spec.rules[0].sessionPersistence"; it is not in the standard channel: experimental fields need the experimental channel`,
	}, {
		name:      "an experimental field in the experimental channel",
		opts:      httproutetest.Options{Channel: validation.Experimental},
		manifests: []string{"apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\nspec:\n  rules:\n  - sessionPersistence: {cookie: {name: s}}\n"},
	}, {
		name:      "a Service, as the loader reads it",
		manifests: []string{"apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  ports: [{port: 80}]\n"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.opts.Decode(tt.manifests...)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("error:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

// TestExtensionRegisteredOnce checks that an extension given once, in
// Options, is both decoded by the loader and served by the Router.
func TestExtensionRegisteredOnce(t *testing.T) {
	ext := directresponse.Extension()
	env := httproutetest.New(t, httproutetest.Options{Extensions: []httproute.Extension{ext}}, `apiVersion: gateway.kgateway.dev/v1alpha1
kind: DirectResponse
metadata: {name: teapot}
spec: {status: 418, body: "short and stout"}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r}
spec:
  rules:
  - filters:
    - type: ExtensionRef
      extensionRef: {group: gateway.kgateway.dev, kind: DirectResponse, name: teapot}
`)
	env.Run(t, []httproutetest.Case{{Name: "served by the extension", Want: httproutetest.Want{Status: 418, Body: "short and stout", Backend: "-"}}})
}

// TestDecodeSplitsMarkersWithComments checks that a document marker with a
// comment separates documents and that comment-only documents are skipped.
func TestDecodeSplitsMarkersWithComments(t *testing.T) {
	cfg, err := httproutetest.Decode(nil, `# routes for the test
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: first, namespace: default}
spec: {}
--- # second
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: second, namespace: default}
spec: {}
---
# nothing here
`)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.HTTPRoutes) != 2 {
		t.Fatalf("decoded %d routes, want 2", len(cfg.HTTPRoutes))
	}
}

package httproutetest_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/httproute/httproute/httproutetest"
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

func TestDecodeRejectsUnknownFieldsAndKinds(t *testing.T) {
	if _, err := httproutetest.Decode(nil, "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\nspec: {rulez: []}\n"); err == nil {
		t.Error("a misspelt field was accepted")
	}
	if _, err := httproutetest.Decode(nil, "apiVersion: example.com/v1\nkind: Thing\nmetadata: {name: r}\n"); err == nil ||
		err.Error() != "document 0 (example.com/v1 Thing): unknown kind: register an Extension for it" {
		t.Errorf("err = %v", err)
	}
}

// TestDecodeSplitsMarkersWithComments checks that a document marker with a
// comment separates documents and that comment-only documents are skipped.
func TestDecodeSplitsMarkersWithComments(t *testing.T) {
	cfg, err := httproutetest.Decode(nil, `# routes for the test
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: first, namespace: default}
--- # second
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: second, namespace: default}
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

package lambda_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/extension/lambda"
)

// twoFunctions is a Backend of the seed shape listing two functions.
const twoFunctions = `
apiVersion: gateway.kgateway.dev/v1alpha1
kind: Backend
metadata: {name: fns, namespace: default}
spec:
  aws:
    lambdaFunctions:
    - {lambdaFunctionName: echo, logicalName: first}
    - {lambdaFunctionName: echo, logicalName: second, qualifier: "7"}
---
`

// routeWithParameters is an HTTPRoute sending every request to Backend
// name with one Parameter filter per entry of params.
func routeWithParameters(name string, params ...string) string {
	s := routeTo(name)
	if len(params) > 0 {
		s += "      filters:\n"
	}
	for _, p := range params {
		s += "      - {type: ExtensionRef, extensionRef: {group: gateway.kgateway.dev, kind: Parameter, name: " + p + "}}\n"
	}
	return s
}

// TestParameterCheckedWhenCompiling checks that the function a backendRef
// invokes is settled when the Router compiles its Config: a Parameter that
// names no function of the Backend, several Parameters, or none where the
// Backend lists several functions leave the backendRef unresolved
// (ResolvedRefs False, reason BackendNotFound, the message saying why) and
// its requests answer 500 without an invoke; a valid choice is served.
func TestParameterCheckedWhenCompiling(t *testing.T) {
	const prefix = `spec.rules[0].backendRefs[0].name: Invalid value: "fns": backend default/fns: `
	for _, tc := range []struct {
		name, docs string
		// want is the ResolvedRefs message, "" when it must be True.
		want string
		// function is the invoke path of a served request.
		function string
	}{{
		name: "unknown logicalName",
		docs: twoFunctions + routeWithParameters("fns", "third"),
		want: prefix + `Parameter "third" names no function: spec.aws.lambdaFunctions has logicalName first, second`,
	}, {
		name: "unknown logicalName of a single function",
		docs: seedManifests[:len(seedManifests)-len("echo\n")] + "echo2\n",
		want: `spec.rules[0].backendRefs[0].name: Invalid value: "lambda": backend kgateway-system/lambda: ` +
			`Parameter "echo2" names no function: spec.aws.lambdaFunctions has logicalName echo`,
	}, {
		name: "no Parameter, several functions",
		docs: twoFunctions + routeWithParameters("fns"),
		want: prefix + `spec.aws.lambdaFunctions lists 2 functions (logicalName first, second) and the backendRef has no Parameter filter to pick one`,
	}, {
		name: "two Parameters",
		docs: twoFunctions + routeWithParameters("fns", "first", "second"),
		want: prefix + `the backendRef has 2 Parameter filters (first, second); one picks the function`,
	}, {
		name:     "Parameter picks the second",
		docs:     twoFunctions + routeWithParameters("fns", "second"),
		function: "/2015-03-31/functions/echo:7/invocations",
	}, {
		name:     "no Parameter, one function",
		docs:     seedManifests[:len(seedManifests)-len("      filters:\n        - type: ExtensionRef\n          extensionRef:\n            group: \"gateway.kgateway.dev\"\n            kind: Parameter\n            name: echo\n")],
		function: "/2015-03-31/functions/echo:$LATEST/invocations",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			endpoint, invokes, seen := lambdaAPI(t, 200, nil, `{"statusCode":200,"body":"ok"}`)
			cfg, _ := manifests(t, tc.docs)
			cfg.Strict = false // serve around the problem and report it
			cfg.Extensions = lambda.Extensions(lambda.Options{Local: true, Endpoint: endpoint})
			cfg.IgnoreParentRefs = true
			cfg.Logger = slog.New(slog.DiscardHandler)
			rt, err := httproute.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			var got []metav1.Condition
			for _, rs := range rt.Status().HTTPRoutes {
				for _, ps := range rs.Parents {
					for _, c := range ps.Conditions {
						if c.Type == "ResolvedRefs" {
							got = append(got, metav1.Condition{Type: c.Type, Status: c.Status, Reason: c.Reason, Message: c.Message})
						}
					}
				}
			}
			want := []metav1.Condition{{Type: "ResolvedRefs", Status: "True", Reason: "ResolvedRefs", Message: "ResolvedRefs"}}
			if tc.want != "" {
				want = []metav1.Condition{{Type: "ResolvedRefs", Status: "False", Reason: "BackendNotFound", Message: tc.want}}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ResolvedRefs (-want +got):\n%s", diff)
			}

			res := serve(t, rt, "GET", "http://example.com/echo", nil, nil)
			body := readAll(t, res)
			if tc.want != "" {
				if res.StatusCode != http.StatusInternalServerError || invokes.Load() != 0 {
					t.Errorf("status %d after %d invokes, want 500 and none: %q", res.StatusCode, invokes.Load(), body)
				}
				// Strict refuses the Config.
				cfg.Strict = true
				if _, err := httproute.New(cfg); err == nil {
					t.Error("Strict: no error")
				}
				return
			}
			path, _ := seen.Load("Path")
			if res.StatusCode != http.StatusOK || path != tc.function {
				t.Errorf("status %d invoking %v, want 200 invoking %s: %q", res.StatusCode, path, tc.function, body)
			}
		})
	}
}

// TestParameterDirectBackend checks a Backend a host calls directly, with
// no Router to settle its function: WithLogicalName picks one, and a
// request that does not pick a valid one answers 500 saying why.
func TestParameterDirectBackend(t *testing.T) {
	endpoint, invokes, seen := lambdaAPI(t, 200, nil, `{"statusCode":200,"body":"ok"}`)
	cfg, _ := manifests(t, twoFunctions+routeTo("fns"))
	b, err := lambda.New(lambda.Options{Local: true, Endpoint: endpoint}).NewBackend(cfg.Objects[0].(*lambda.Backend))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, logicalName string
		status            int
		want              string
	}{
		{"picked", "second", 200, "/2015-03-31/functions/echo:7/invocations"},
		{"unknown", "third", 500, "lambda: Backend default/fns has no function with logicalName \"third\"\n"},
		{"none", "", 500, "lambda: Backend default/fns lists 2 functions: add an ExtensionRef filter of kind Parameter to the backendRef to pick one by logicalName\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := invokes.Load()
			req := httptest.NewRequest("GET", "http://example.com/", nil)
			if tc.logicalName != "" {
				req = req.WithContext(lambda.WithLogicalName(req.Context(), tc.logicalName))
			}
			res, err := b.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			body := readAll(t, res)
			got := body
			if res.StatusCode == 200 {
				p, _ := seen.Load("Path")
				got, _ = p.(string)
			}
			if res.StatusCode != tc.status || got != tc.want {
				t.Errorf("got %d %q, want %d %q", res.StatusCode, got, tc.status, tc.want)
			}
			if tc.status != 200 && invokes.Load() != before {
				t.Error("invoked anyway")
			}
		})
	}
}

package manifest_test

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/manifest"
)

func ExampleDecode() {
	const routes = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: httpbin
spec:
  rules:
  - matches:
    - queryParams:
      - name: version
        value: 2
    backendRefs:
    - name: httpbin
      port: 8000
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: web
spec:
  rules:
  - backendRefs:
    - name: web
      port: 80
`
	m, err := manifest.Decode(manifest.Options{}, "routes.yaml", strings.NewReader(routes))
	fmt.Println(err)
	for _, r := range m.Config.HTTPRoutes {
		// Loaded objects carry the CRD defaults.
		fmt.Println(r.Namespace, r.Name, *r.Spec.Rules[0].BackendRefs[0].Weight)
	}
	// Output:
	// routes.yaml:10:9: httproute default/httpbin: spec.rules[0].matches[0].queryParams[0].value: Invalid value: "integer": spec.rules[0].matches[0].queryParams[0].value in body must be of type string: "integer"
	// routes.yaml:1:1: httproute default/httpbin: <nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation
	// default web 1
}

func ExampleManifests_Locate() {
	const route = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: web
spec:
  rules:
  - backendRefs:
    - name: web
      port: 80
`
	m, err := manifest.Decode(manifest.Options{}, "route.yaml", strings.NewReader(route))
	if err != nil {
		fmt.Println(err)
		return
	}
	// A problem found later, by httproute.New with Config.Strict or by
	// validation.Warnings, names the object and the field; Locate adds
	// where the manifest writes it.
	err = &httproute.Error{
		Kind: "HTTPRoute", Namespace: "default", Name: "web", Reason: "BackendNotFound",
		Field: field.NotFound(field.NewPath("spec", "rules").Index(0).Child("backendRefs").Index(0), "web"),
	}
	fmt.Println(m.Locate(err))
	// Output:
	// route.yaml:8:7: httproute default/web: spec.rules[0].backendRefs[0]: Not found: "web"
}

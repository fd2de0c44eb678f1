package validation_test

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/validation"
)

// A Router built from Go structs opts into the validation and defaults
// the manifest loader applies.
func ExampleValidator_Config() {
	pathType, path := gatewayv1.PathMatchPathPrefix, "api"
	cfg := httproute.Config{HTTPRoutes: []*gatewayv1.HTTPRoute{{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: gatewayv1.HTTPRouteSpec{Rules: []gatewayv1.HTTPRouteRule{{
			Matches: []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{Type: &pathType, Value: &path}}},
		}}},
	}}}
	v := validation.New(validation.Standard) // one per program: it compiles the CRDs once
	if err := v.Config(&cfg); err != nil {
		fmt.Println(err)
		return
	}
	router, err := httproute.New(cfg)
	fmt.Println(router != nil, err)
	// Output:
	// httproute default/web: spec.rules[0].matches[0].path: Invalid value: value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']
}

package httproute_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/httproute/httproute"
)

// APIKey is a custom filter kind: requests must carry one of its keys in
// the X-Api-Key header.
type APIKey struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              struct {
		Keys []string `json:"keys"`
	} `json:"spec"`
}

// DeepCopyObject makes APIKey a runtime.Object.
func (k *APIKey) DeepCopyObject() runtime.Object {
	c := *k
	k.ObjectMeta.DeepCopyInto(&c.ObjectMeta)
	c.Spec.Keys = append([]string(nil), k.Spec.Keys...)
	return &c
}

// apiKeyExtension registers the kind: the manifest loader decodes it with
// New, and the Router builds one filter per ExtensionRef to it, at compile
// time, with Filter.
func apiKeyExtension() httproute.Extension {
	return httproute.Extension{
		Kind: schema.GroupVersionKind{Group: "example.com", Version: "v1", Kind: "APIKey"},
		New:  func() httproute.Object { return &APIKey{} },
		Filter: func(ref httproute.ObjectRef) (httproute.Filter, error) {
			obj := ref.Object.(*APIKey)
			if len(obj.Spec.Keys) == 0 {
				return nil, errors.New("spec.keys: Required value")
			}
			keys := map[string]bool{}
			for _, k := range obj.Spec.Keys {
				keys[k] = true
			}
			return httproute.FilterFunc(func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if !keys[r.Header.Get("X-Api-Key")] {
						http.Error(w, "missing or unknown API key", http.StatusUnauthorized)
						return
					}
					next.ServeHTTP(w, r)
				})
			}), nil
		},
	}
}

// Example_extensionRefFilter writes a custom ExtensionRef filter and routes
// through it.
func Example_extensionRefFilter() {
	keys := &APIKey{}
	keys.APIVersion, keys.Kind = "example.com/v1", "APIKey"
	keys.Namespace, keys.Name = "default", "partners"
	keys.Spec.Keys = []string{"s3cret"}

	route := &gatewayv1.HTTPRoute{}
	route.Namespace, route.Name = "default", "api"
	route.Spec.Rules = []gatewayv1.HTTPRouteRule{{
		Filters: []gatewayv1.HTTPRouteFilter{{
			Type: gatewayv1.HTTPRouteFilterExtensionRef,
			ExtensionRef: &gatewayv1.LocalObjectReference{
				Group: "example.com", Kind: "APIKey", Name: "partners",
			},
		}},
		BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{
			BackendObjectReference: gatewayv1.BackendObjectReference{Name: "api", Port: new(gatewayv1.PortNumber(80))},
		}}},
	}}

	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "hello, partner") })
	rt, err := httproute.New(httproute.Config{
		HTTPRoutes: []*gatewayv1.HTTPRoute{route},
		Objects:    []httproute.Object{keys},
		Extensions: []httproute.Extension{apiKeyExtension()},
		Services: httproute.Services{
			{Namespace: "default", Name: "api", Port: 80}: httproute.Handler(api),
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	for _, key := range []string{"", "s3cret"} {
		req := httptest.NewRequest("GET", "http://example.com/", nil)
		req.Header.Set("X-Api-Key", key)
		rec := httptest.NewRecorder()
		rt.ServeHTTP(rec, req)
		body, _ := io.ReadAll(rec.Body)
		fmt.Printf("%d %s", rec.Code, body)
	}
	// Output:
	// 401 missing or unknown API key
	// 200 hello, partner
}

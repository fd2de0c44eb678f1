package httproute_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/httproute/httproute"
)

// Greeter is a custom backend kind: routes send traffic to it with a
// backendRef of group example.com and kind Greeter.
type Greeter struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Greeting string `json:"greeting"`
	} `json:"spec"`
}

func (g *Greeter) DeepCopyObject() runtime.Object {
	c := *g
	c.ObjectMeta = *g.ObjectMeta.DeepCopy()
	return &c
}

// greeterBackend is RoundTripper-shaped, as every Backend is: it answers
// without a network hop.
type greeterBackend struct{ greeting string }

func (b greeterBackend) RoundTrip(r *http.Request) (*http.Response, error) {
	body := fmt.Sprintf("%s from %s\n", b.greeting, r.URL.Path)
	return &http.Response{
		StatusCode:    200,
		Header:        http.Header{"Content-Type": {"text/plain"}},
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       r,
	}, nil
}

// A host program registers its own backend kind with an Extension: the
// Router resolves every backendRef to the kind once, at compile time, from
// the referenced object.
func ExampleExtension_backend() {
	greeterKind := schema.GroupVersionKind{Group: "example.com", Version: "v1", Kind: "Greeter"}
	ext := httproute.Extension{
		Kind: greeterKind,
		New:  func() httproute.Object { return &Greeter{} },
		Backend: func(ref httproute.BackendRef) (httproute.Backend, error) {
			g := ref.Object.(*Greeter)
			if g.Spec.Greeting == "" {
				return nil, fmt.Errorf("greeter %s/%s has no greeting", g.Namespace, g.Name)
			}
			return greeterBackend{g.Spec.Greeting}, nil
		},
	}
	hello := &Greeter{TypeMeta: metav1.TypeMeta{APIVersion: "example.com/v1", Kind: "Greeter"},
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "hello"}}
	hello.Spec.Greeting = "hello"

	var route gatewayv1.HTTPRoute
	_ = yaml.Unmarshal([]byte(`
metadata: {name: greet, namespace: default}
spec:
  rules:
  - backendRefs: [{group: example.com, kind: Greeter, name: hello}]
`), &route)
	router, err := httproute.New(httproute.Config{
		HTTPRoutes: []*gatewayv1.HTTPRoute{&route},
		Objects:    []httproute.Object{hello},
		Extensions: []httproute.Extension{ext},
	})
	if err != nil {
		panic(err)
	}
	rec := httptest.NewRecorder()
	router.ServeHTTP(rec, httptest.NewRequest("GET", "/world", nil))
	fmt.Print(rec.Code, " ", rec.Body.String())
	// Output:
	// 200 hello from /world
}

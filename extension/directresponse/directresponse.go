// Package directresponse serves kgateway's DirectResponse
// (gateway.kgateway.dev/v1alpha1) as an ExtensionRef filter: the requests
// it filters are answered with a fixed status and body and never reach a
// backend.
//
//	apiVersion: gateway.kgateway.dev/v1alpha1
//	kind: DirectResponse
//	metadata:
//	  name: direct-response
//	  namespace: httpbin
//	spec:
//	  status: 404
//	  body: "User-agent: *\nDisallow: /direct-response\n"
//
// An HTTPRoute refers to it with
//
//	filters:
//	- type: ExtensionRef
//	  extensionRef:
//	    group: gateway.kgateway.dev
//	    kind: DirectResponse
//	    name: direct-response
//
// Register it with httproute.Config.Extensions (and the manifest loader's
// options) as Extension(). The answer has Content-Type text/plain when it
// has a body, and no body for HEAD requests. Filters listed after the
// ExtensionRef do not run; list a ResponseHeaderModifier before it to add
// headers to the answer.
package directresponse

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/httproute/httproute"
)

// GroupVersionKind is the kind this package serves.
var GroupVersionKind = schema.GroupVersionKind{Group: "gateway.kgateway.dev", Version: "v1alpha1", Kind: "DirectResponse"}

// MaxBodyLength is the longest spec.body kgateway's CRD accepts.
const MaxBodyLength = 4096

// DirectResponse is kgateway's DirectResponse object.
type DirectResponse struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              Spec                   `json:"spec"`
	Status            gatewayv1.PolicyStatus `json:"status,omitempty"`
}

// Spec is the desired answer.
type Spec struct {
	// StatusCode is the status of the answer, from 200 to 599.
	StatusCode int32 `json:"status"`
	// Body is the body of the answer, 1 to 4096 bytes; nil answers without
	// a body.
	Body *string `json:"body,omitempty"`
	// BodyFormat is kgateway's Envoy format string alternative to Body.
	// It is not supported: an object that sets it is refused.
	BodyFormat *string `json:"bodyFormat,omitempty"`
}

// DeepCopyObject implements runtime.Object.
func (d *DirectResponse) DeepCopyObject() runtime.Object {
	if d == nil {
		return nil
	}
	c := &DirectResponse{TypeMeta: d.TypeMeta, Spec: d.Spec}
	d.ObjectMeta.DeepCopyInto(&c.ObjectMeta)
	d.Status.DeepCopyInto(&c.Status)
	if d.Spec.Body != nil {
		b := *d.Spec.Body
		c.Spec.Body = &b
	}
	if d.Spec.BodyFormat != nil {
		b := *d.Spec.BodyFormat
		c.Spec.BodyFormat = &b
	}
	return c
}

// Validate checks d as kgateway's CRD does, and returns every problem, or
// nil. Field paths start at the object's root.
func Validate(d *DirectResponse) field.ErrorList {
	var errs field.ErrorList
	spec := field.NewPath("spec")
	if d.Spec.StatusCode < 200 || d.Spec.StatusCode > 599 {
		errs = append(errs, field.Invalid(spec.Child("status"), d.Spec.StatusCode, "must be between 200 and 599"))
	}
	if b := d.Spec.Body; b != nil {
		switch {
		case *b == "":
			errs = append(errs, field.Invalid(spec.Child("body"), "", "must be at least 1 character long when set"))
		case utf8.RuneCountInString(*b) > MaxBodyLength:
			// The CRD's maxLength counts characters, as the API server does.
			errs = append(errs, field.Invalid(spec.Child("body"), "", fmt.Sprintf("must be at most %d characters long", MaxBodyLength)))
		}
	}
	if d.Spec.BodyFormat != nil {
		errs = append(errs, field.Forbidden(spec.Child("bodyFormat"), "Envoy format strings are not supported; use spec.body"))
	}
	return errs
}

// Extension returns the extension to register with a Router and the
// manifest loader.
func Extension() httproute.Extension {
	return httproute.Extension{
		Kind: GroupVersionKind,
		New:  func() httproute.Object { return &DirectResponse{} },
		Filter: func(ref httproute.ObjectRef) (httproute.Filter, error) {
			d, ok := ref.Object.(*DirectResponse)
			if !ok {
				return nil, fmt.Errorf("directresponse: %s %s/%s is a %T, not a *directresponse.DirectResponse", ref.Kind, ref.Namespace, ref.Name, ref.Object)
			}
			return New(d)
		},
	}
}

// New returns the filter answering as d says, or d's problems.
func New(d *DirectResponse) (httproute.Filter, error) {
	if errs := Validate(d); len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Error()
		}
		return nil, fmt.Errorf("DirectResponse %s/%s: %s", d.Namespace, d.Name, strings.Join(msgs, "; "))
	}
	a := &answer{code: int(d.Spec.StatusCode)}
	if d.Spec.Body != nil {
		a.body = []byte(*d.Spec.Body)
		a.length = strconv.Itoa(len(a.body))
	}
	return httproute.FilterFunc(func(http.Handler) http.Handler { return a }), nil
}

// answer is a compiled DirectResponse.
type answer struct {
	code   int
	body   []byte
	length string
}

func (a *answer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if a.body != nil {
		h := w.Header()
		h.Set("Content-Type", "text/plain")
		h.Set("Content-Length", a.length)
	}
	w.WriteHeader(a.code)
	if a.body != nil && r.Method != http.MethodHead {
		_, _ = w.Write(a.body)
	}
}

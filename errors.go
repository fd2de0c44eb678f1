package httproute

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The sentinel errors. Backends and filters wrap them with %w, compile
// problems (*Error) unwrap to the last four, and callers classify any of
// them with errors.Is. The Router answers a request that fails with one
// of them with one status code each, with a short plain-text body; any
// other error a backend returns answers 502.
//
//	ErrNoRoute       404  no rule matches the request (Config.NotFound may serve it instead)
//	ErrMisdirected   421  the Host names another listener than the TLS connection's SNI chose
//	ErrInvalidRule   500  the matched rule or backendRef cannot be served (every weight is 0,
//	                      no backendRefs, a reference that did not resolve)
//	ErrNotFound      500  a referenced object (Service, XBackend, extension object, Secret)
//	                      does not exist; reason BackendNotFound
//	ErrInvalidKind   500  a reference names a kind the Router does not serve; reason InvalidKind
//	ErrNotPermitted  500  a cross-namespace reference that no ReferenceGrant allows;
//	                      reason RefNotPermitted
//	ErrUnsupported   500  a value the Router does not support (an appProtocol, a field);
//	                      reason UnsupportedValue or UnsupportedProtocol
//	ErrBackend       502  the backend failed or answered malformed data
//	ErrNoEndpoint    503  the backend has no healthy endpoint, could not be connected to,
//	                      or a circuit breaker (Limit) refused the request
//	ErrTimeout       504  the request timeout or the backendRequest timeout expired
//
// Record.Attempts[i].Err holds the error of an attempt that got no answer
// and ErrorClass classifies it more finely.
var (
	ErrNoRoute      = errors.New("httproute: no matching route")
	ErrInvalidRule  = errors.New("httproute: invalid rule or backendRef")
	ErrBackend      = errors.New("httproute: backend error")
	ErrNoEndpoint   = errors.New("httproute: no healthy endpoint")
	ErrTimeout      = errors.New("httproute: timeout")
	ErrMisdirected  = errors.New("httproute: misdirected request")
	ErrNotFound     = errors.New("httproute: object not found")
	ErrInvalidKind  = errors.New("httproute: unsupported kind")
	ErrUnsupported  = errors.New("httproute: unsupported value")
	ErrNotPermitted = errors.New("httproute: reference not permitted")
)

// statusFor is the one mapping from runtime errors to HTTP status codes,
// the table of the sentinels' documentation.
func statusFor(err error) int {
	switch {
	case errors.Is(err, ErrNoRoute):
		return http.StatusNotFound
	case errors.Is(err, ErrMisdirected):
		return http.StatusMisdirectedRequest
	case errors.Is(err, ErrInvalidRule), errors.Is(err, ErrNotFound), errors.Is(err, ErrInvalidKind),
		errors.Is(err, ErrUnsupported), errors.Is(err, ErrNotPermitted):
		return http.StatusInternalServerError
	case errors.Is(err, ErrNoEndpoint):
		return http.StatusServiceUnavailable
	case errors.Is(err, ErrTimeout):
		return http.StatusGatewayTimeout
	default:
		return http.StatusBadGateway
	}
}

// An Error is a problem with one object of a Config, found while compiling
// it. It names the object, the field path and the Gateway API condition
// reason, and prints the way the Kubernetes API server prints field errors:
//
//	httproute default/web: spec.rules[2].filters[0].requestRedirect.statusCode: Unsupported value: 305
//
// Use errors.As to inspect it. A Router built without Config.Strict serves
// around such problems (the rule or backendRef is degraded and reported in
// Status); with Config.Strict, New and Update fail with all of them joined.
type Error struct {
	// Kind is the kind of the object: "HTTPRoute", "Gateway", ...
	Kind      string
	Namespace string
	Name      string
	// Reason is the Gateway API condition reason that Status reports for
	// the problem, such as "UnsupportedValue" or "BackendNotFound".
	Reason string
	// Field is the field error, with the path from the object's root.
	Field *field.Error
	// File, Line and Column locate the field in a manifest when the
	// object was loaded from YAML; zero otherwise.
	File   string
	Line   int
	Column int
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		fmt.Fprintf(&b, "%s:%d:%d: ", e.File, e.Line, e.Column)
	}
	b.WriteString(strings.ToLower(e.Kind))
	switch {
	case e.Name == "" && e.Namespace == "":
	case e.Name == "":
		b.WriteString(" in namespace " + e.Namespace)
	case e.Namespace == "":
		b.WriteString(" " + e.Name)
	default:
		b.WriteString(" " + e.Namespace + "/" + e.Name)
	}
	b.WriteString(": ")
	if e.Field != nil {
		b.WriteString(e.Field.Error())
	}
	return b.String()
}

// Unwrap returns the runtime sentinel matching the reason, so that
// errors.Is(err, ErrNotFound) works on compile problems too.
func (e *Error) Unwrap() error {
	switch e.Reason {
	case reasonBackendNotFound:
		return ErrNotFound
	case reasonInvalidKind:
		return ErrInvalidKind
	case reasonRefNotPermitted:
		return ErrNotPermitted
	default:
		return ErrUnsupported
	}
}

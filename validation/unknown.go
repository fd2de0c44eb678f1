package validation

import (
	"strconv"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/httproute/httproute"
)

// unknownFieldDetail is the detail of the field errors with which Validate
// reports fields the schema does not have.
const unknownFieldDetail = "unknown field"

// UnknownField returns the problem with which Validate reports a field at
// p that the schema does not have.
func UnknownField(p *field.Path) *field.Error {
	return field.Forbidden(p, unknownFieldDetail)
}

// IsUnknownField reports whether fe is one of the problems with which
// Validate reports a field the schema of the object's kind does not have.
// An object with such a field is refused by the API server while it is
// decoded, before any validation: Validate then reports nothing else.
func IsUnknownField(fe *field.Error) bool {
	return fe != nil && fe.Type == field.ErrorTypeForbidden && fe.Detail == unknownFieldDetail
}

// An UnknownFieldError is a field the schema of an object's kind does not
// have. It prints in the API server's words, followed by a hint when there
// is one:
//
//	routes.yaml:7:5: httproute default/web: strict decoding error: unknown field "spec.rules[0].backendRef"; did you mean "backendRefs"?
//
// Err names the object and, in its Field (a Forbidden field error), the
// path of the field; Unwrap returns it, so that errors.As finds the
// *httproute.Error of an UnknownFieldError too.
type UnknownFieldError struct {
	Err *httproute.Error
	// Hint, when set, follows the API server's text: the known field the
	// name is closest to, or the channel that has the field.
	Hint string
}

func (e *UnknownFieldError) Error() string {
	object := *e.Err
	object.Field = nil
	path := ""
	if e.Err.Field != nil {
		path = e.Err.Field.Field
	}
	msg := object.Error() + "strict decoding error: unknown field " + strconv.Quote(path)
	if e.Hint != "" {
		msg += "; " + e.Hint
	}
	return msg
}

// Unwrap returns the *httproute.Error that names the object and field.
func (e *UnknownFieldError) Unwrap() error { return e.Err }

// UnknownFieldHint is the hint of an unknown field that the Go type of the
// object has but the channel's CRD does not: with the standard channel,
// that experimental fields need the experimental one.
func (v *Validator) UnknownFieldHint() string {
	if v.channel == Standard {
		return "it is not in the standard channel: experimental fields need the experimental channel"
	}
	return ""
}

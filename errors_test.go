package httproute

import (
	"errors"
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

func TestErrorString(t *testing.T) {
	fe := field.NotSupported(field.NewPath("spec", "rules").Index(2).Child("filters").Index(0).Child("requestRedirect", "statusCode"), 305, []string{"301", "302"})
	tests := []struct {
		name string
		err  Error
		want string
	}{
		{"namespaced", Error{Kind: "HTTPRoute", Namespace: "default", Name: "web", Field: fe},
			`httproute default/web: spec.rules[2].filters[0].requestRedirect.statusCode: Unsupported value: 305: supported values: "301", "302"`},
		{"with position", Error{Kind: "HTTPRoute", Namespace: "default", Name: "web", Field: fe, File: "routes.yaml", Line: 12, Column: 9},
			`routes.yaml:12:9: httproute default/web: spec.rules[2].filters[0].requestRedirect.statusCode: Unsupported value: 305: supported values: "301", "302"`},
		{"cluster-scoped", Error{Kind: "Namespace", Name: "team-a", Field: field.Required(field.NewPath("metadata", "labels"), "")},
			`namespace team-a: metadata.labels: Required value`},
		{"no name", Error{Kind: "HTTPRoute", Namespace: "default", Field: field.Required(field.NewPath("metadata", "name"), "")},
			`httproute in namespace default: metadata.name: Required value`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error()\n got: %s\nwant: %s", got, tt.want)
			}
		})
	}
}

// TestStatusOfEachSentinel pins the table of the sentinels' documentation:
// one status code per sentinel, wrapped or not, 502 for anything else.
func TestStatusOfEachSentinel(t *testing.T) {
	want := map[error]int{
		ErrNoRoute: 404, ErrMisdirected: 421, ErrInvalidRule: 500, ErrNotFound: 500, ErrInvalidKind: 500,
		ErrNotPermitted: 500, ErrUnsupported: 500, ErrBackend: 502, ErrNoEndpoint: 503, ErrTimeout: 504,
		errors.New("a backend's own error"): 502,
	}
	for err, code := range want {
		if got := statusFor(fmt.Errorf("wrapped: %w", err)); got != code {
			t.Errorf("%v: status %d, want %d", err, got, code)
		}
	}
}

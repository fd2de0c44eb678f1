package validation_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	xv1alpha1 "sigs.k8s.io/gateway-api/apisx/v1alpha1"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/validation"
)

// TestXBackendChannels validates XBackends built in Go: the experimental
// channel applies the CRD's CEL rules; the standard channel has no CRD
// for the kind and says so, as the API server would.
func TestXBackendChannels(t *testing.T) {
	bad := func() *xv1alpha1.XBackend {
		return &xv1alpha1.XBackend{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "x"},
			Spec:       xv1alpha1.BackendSpec{Type: xv1alpha1.BackendTypeExternalHostname, Port: xv1alpha1.BackendPort{Number: 443}},
		}
	}
	for _, tc := range []struct {
		ch   validation.Channel
		want []string
	}{
		{validation.Experimental, []string{"xbackend default/x: spec: Invalid value: externalHostname must be set when type is ExternalHostname and must be unset otherwise"}},
		{validation.Standard, []string{`xbackend default/x: kind: Invalid value: "XBackend": no matches for kind "XBackend" in version "gateway.networking.x-k8s.io/v1alpha1": the standard channel has no CRD for it; use the experimental channel`}},
	} {
		t.Run(tc.ch.String(), func(t *testing.T) {
			cfg := httproute.Config{XBackends: []*xv1alpha1.XBackend{bad()}}
			err := validators[tc.ch].Config(&cfg)
			var got []string
			if err != nil {
				got = []string{err.Error()}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

// TestXTelemetryPolicyValidated: Config validates XTelemetryPolicies as
// the experimental CRD does.
func TestXTelemetryPolicyValidated(t *testing.T) {
	cfg := httproute.Config{XTelemetryPolicies: []*xv1alpha1.XTelemetryPolicy{{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "p"},
	}}}
	err := validators[validation.Experimental].Config(&cfg)
	if err == nil || !strings.Contains(err.Error(), "xtelemetrypolicy default/p: spec.targetRefs") {
		t.Errorf("an XTelemetryPolicy without targetRefs: %v", err)
	}
}

package manifest

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestBackendTLSPolicyLoads decodes BackendTLSPolicies into the Config
// and checks them as the API server's CRD does.
func TestBackendTLSPolicyLoads(t *testing.T) {
	tests := []struct {
		name       string
		validation string
		want       []string // error messages, nil when the policy loads
	}{
		{name: "ConfigMap", validation: `{hostname: web.example.com, caCertificateRefs: [{group: "", kind: ConfigMap, name: ca}]}`},
		{name: "System", validation: `{hostname: web.example.com, wellKnownCACertificates: System}`},
		{name: "both", validation: `{hostname: web.example.com, wellKnownCACertificates: System, caCertificateRefs: [{group: "", kind: ConfigMap, name: ca}]}`,
			want: []string{`in.yaml:6:3: backendtlspolicy default/p: spec.validation: Invalid value: must not contain both CACertificateRefs and WellKnownCACertificates`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := "apiVersion: gateway.networking.k8s.io/v1\nkind: BackendTLSPolicy\nmetadata: {name: p, namespace: default}\n" +
				"spec:\n  targetRefs: [{group: \"\", kind: Service, name: web}]\n  validation: " + tt.validation + "\n"
			m, err := Decode(Options{}, "in.yaml", strings.NewReader(doc))
			var got []string
			for _, e := range flattenErrors(err) {
				got = append(got, e.Error())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("errors (-want +got):\n%s", diff)
			}
			if err == nil && (len(m.Config.BackendTLSPolicies) != 1 || m.Config.BackendTLSPolicies[0].Spec.Validation.Hostname != "web.example.com") {
				t.Errorf("policies not decoded: %+v", m.Config.BackendTLSPolicies)
			}
		})
	}
}

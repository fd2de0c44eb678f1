package manifest

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/httproute/httproute/validation"
)

const xbackendDocs = `apiVersion: gateway.networking.x-k8s.io/v1alpha1
kind: XBackend
metadata: {name: ext, namespace: default}
spec:
  type: ExternalHostname
  externalHostname: {hostname: api.example.com}
  port: {number: 443}
  tls: {mode: ServerOnly, validation: {hostname: api.example.com, caCertificateRefs: [{group: "", kind: ConfigMap, name: ca}]}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: ca, namespace: default}
data: {ca.crt: "-----BEGIN CERTIFICATE-----"}
`

// TestXBackendNeedsTheExperimentalChannel loads XBackends (and the
// ConfigMaps their TLS validation names) with the experimental channel,
// and reports them as the API server would without their CRD.
func TestXBackendNeedsTheExperimentalChannel(t *testing.T) {
	m, err := Decode(Options{Channel: validation.Experimental}, "in.yaml", strings.NewReader(xbackendDocs))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Config.XBackends) != 1 || len(m.Config.ConfigMaps) != 1 {
		t.Fatalf("loaded %d XBackends and %d ConfigMaps, want 1 and 1", len(m.Config.XBackends), len(m.Config.ConfigMaps))
	}
	if tls := m.Config.XBackends[0].Spec.TLS; tls == nil || tls.Validation.Hostname != "api.example.com" {
		t.Errorf("spec.tls not decoded: %+v", tls)
	}

	_, err = Decode(Options{}, "in.yaml", strings.NewReader(xbackendDocs))
	want := []string{`in.yaml:1:1: document 1: no matches for kind "XBackend" in version "gateway.networking.x-k8s.io/v1alpha1": the standard channel has no CRD for it; use the experimental channel`}
	var got []string
	for _, e := range flattenErrors(err) {
		got = append(got, e.Error())
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

func flattenErrors(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	if err == nil {
		return nil
	}
	return []error{err}
}

package conformance

import (
	"os"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	confv1 "sigs.k8s.io/gateway-api/conformance/apis/v1"
)

// TestREADMEFeatureTable checks the README's table of conformance features
// against the committed report: every feature the report claims is listed
// as passing, every feature it lists as unsupported is listed as not
// passing, and the table lists nothing else.
func TestREADMEFeatureTable(t *testing.T) {
	data, err := os.ReadFile(reportFile)
	if err != nil {
		t.Fatal(err)
	}
	var report confv1.ConformanceReport
	if err := yaml.Unmarshal(data, &report); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{} // feature -> passes
	for _, p := range report.ProfileReports {
		if p.Core.Result != confv1.Success {
			t.Fatalf("profile %s core result %s: the README claims core conformance", p.Name, p.Core.Result)
		}
		if p.Extended != nil {
			for _, f := range p.Extended.SupportedFeatures {
				want[string(f)] = true
			}
			for _, f := range p.Extended.UnsupportedFeatures {
				want[string(f)] = false
			}
		}
	}
	for _, core := range []string{"Gateway (core)", "HTTPRoute (core)", "ReferenceGrant (core)", "GRPCRoute (core)"} {
		want[core] = true
	}

	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	begin := strings.Index(text, "<!-- conformance-features:begin -->")
	end := strings.Index(text, "<!-- conformance-features:end -->")
	if begin < 0 || end < begin {
		t.Fatal("README.md has no conformance-features table markers")
	}
	got := map[string]bool{}
	for _, line := range strings.Split(text[begin:end], "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 || strings.HasPrefix(strings.TrimSpace(cells[1]), "---") || strings.TrimSpace(cells[1]) == "Feature" {
			continue
		}
		name, status := strings.TrimSpace(cells[1]), strings.TrimSpace(cells[2])
		if _, dup := got[name]; dup {
			t.Errorf("README lists %s twice", name)
		}
		got[name] = strings.HasPrefix(status, "✅")
	}
	for f, passes := range want {
		g, ok := got[f]
		switch {
		case !ok:
			t.Errorf("README does not list %s (report: passes=%v)", f, passes)
		case g != passes:
			t.Errorf("README says %s passes=%v, the report says %v", f, g, passes)
		}
	}
	for f := range got {
		if _, ok := want[f]; !ok {
			t.Errorf("README lists %s, which the report does not mention", f)
		}
	}
}

package conformance

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	confv1 "sigs.k8s.io/gateway-api/conformance/apis/v1"
	"sigs.k8s.io/gateway-api/conformance/utils/suite"
	"sigs.k8s.io/gateway-api/pkg/consts"
	"sigs.k8s.io/gateway-api/pkg/features"
	"sigs.k8s.io/yaml"

	"github.com/httproute/httproute/conformance/profile"
)

// notRunnable lists the tests of the run's scope that cannot run in
// process, with the reason; when their features are claimed they are
// reported as skipped, with the reason, instead of run.
func notRunnable() map[string]string {
	blocked := map[string]string{
		"GatewayInfrastructureMetadata": "it looks for the ServiceAccounts, Pods or Services a controller provisions for a Gateway, " +
			"labelled with spec.infrastructure; an embedded Router provisions no Kubernetes resources",
	}
	if !canBindGatewayAddresses() {
		blocked["BackendTLSPolicyGRPCRoute"] = "it sends its RPCs with the suite's default gRPC client (no client passed), which dials the Gateway's address itself; " +
			"serving port 80 on Gateway addresses (127.0.x.y) needs root or CAP_NET_BIND_SERVICE, which this process lacks"
	}
	return blocked
}

// outcome is what became of one test.
type outcome int

const (
	passed outcome = iota
	failed
	skipped
)

// result is the outcome of one test of the report's profile; reason says
// why a skipped test did not run.
type result struct {
	test    suite.ConformanceTest
	outcome outcome
	reason  string
}

// inScope reports whether t is one of the tests this run is for: the
// HTTPRoute and GRPCRoute tests, the Gateway tests (HTTP listeners, route
// attachment, client certificates), the ListenerSet tests and the
// BackendTLSPolicy tests. GatewayClass tests run too: they
// judge the GatewayClass status, which the harness writes as the host
// program's controller would, so they check the harness's half of the
// implementation.
func inScope(t suite.ConformanceTest) bool {
	return strings.HasPrefix(t.ShortName, "HTTPRoute") || strings.HasPrefix(t.ShortName, "GRPC") ||
		strings.HasPrefix(t.ShortName, "Gateway") || strings.HasPrefix(t.ShortName, "ListenerSet") ||
		strings.HasPrefix(t.ShortName, "BackendTLSPolicy")
}

// plan splits the suite's tests of the profile whose features are all
// supported into those to run and those reported as skipped, with the
// reason. Tests of other profiles, and tests needing a feature that is not
// supported, are neither run nor counted, as in upstream reports.
func plan(all []suite.ConformanceTest, supported sets.Set[features.FeatureName]) (run []suite.ConformanceTest, skip []result) {
	blocked := notRunnable()
	for _, t := range all {
		if !profile.InAny(t) || !supported.HasAll(t.Features...) {
			continue
		}
		switch reason, ok := blocked[t.ShortName]; {
		case ok:
			skip = append(skip, result{test: t, outcome: skipped, reason: "cannot run in process: " + reason})
		case !inScope(t):
			skip = append(skip, result{test: t, outcome: skipped, reason: "outside the run's scope: it checks the GatewayClass controller, which is the harness, not the Router"})
		default:
			run = append(run, t)
		}
	}
	return run, skip
}

// isExtended reports whether t needs a feature beyond the profile's core.
func isExtended(p suite.ConformanceProfile, t suite.ConformanceTest) bool {
	for _, f := range t.Features {
		if !p.CoreFeatures.Has(f) {
			return true
		}
	}
	return false
}

// buildReport returns the ConformanceReport of a run, in the upstream
// format: one report per profile with core and extended counts, each
// counting the tests whose features all belong to the profile (a Gateway
// test counts in both).
func buildReport(results []result, supported sets.Set[features.FeatureName], impl confv1.Implementation, date time.Time) *confv1.ConformanceReport {
	slices.SortFunc(results, func(a, b result) int { return strings.Compare(a.test.ShortName, b.test.ShortName) })
	provisional := sets.New[string]()
	var reports []confv1.ProfileReport
	for _, p := range profile.All() {
		var core confv1.Status
		ext := &confv1.ExtendedStatus{}
		for _, r := range results {
			if !profile.Includes(p, r.test) {
				continue
			}
			st := &core
			if isExtended(p, r.test) {
				st = &ext.Status
			}
			switch r.outcome {
			case passed:
				st.Passed++
				if r.test.Provisional {
					provisional.Insert(r.test.ShortName)
				}
			case failed:
				st.Failed++
				st.FailedTests = append(st.FailedTests, r.test.ShortName)
			case skipped:
				st.Skipped++
				st.SkippedTests = append(st.SkippedTests, r.test.ShortName)
			}
		}
		core.Result = resultOf(core)
		ext.Result = resultOf(ext.Status)
		for _, f := range sets.List(p.ExtendedFeatures) {
			if supported.Has(f) {
				ext.SupportedFeatures = append(ext.SupportedFeatures, string(f))
			} else {
				ext.UnsupportedFeatures = append(ext.UnsupportedFeatures, string(f))
			}
		}
		reports = append(reports, confv1.ProfileReport{
			Name:     string(p.Name),
			Core:     core,
			Extended: ext,
			Summary:  fmt.Sprintf("Core tests %s. Extended tests %s.", summary(core), summary(ext.Status)),
		})
	}
	var succeeded []string
	if provisional.Len() > 0 {
		succeeded = sets.List(provisional)
	}
	return &confv1.ConformanceReport{
		TypeMeta:                  metav1.TypeMeta{APIVersion: confv1.GroupVersion.String(), Kind: "ConformanceReport"},
		Implementation:            impl,
		Date:                      date.Format(time.RFC3339),
		GatewayAPIVersion:         consts.BundleVersion,
		GatewayAPIChannel:         apiChannel,
		Mode:                      "default",
		ProfileReports:            reports,
		SucceededProvisionalTests: succeeded,
	}
}

func resultOf(st confv1.Status) confv1.Result {
	switch {
	case st.Failed > 0:
		return confv1.Failure
	case st.Skipped > 0:
		return confv1.Partial
	default:
		return confv1.Success
	}
}

func summary(st confv1.Status) string {
	switch st.Result {
	case confv1.Failure:
		return fmt.Sprintf("failed with %d test failures", st.Failed)
	case confv1.Partial:
		return fmt.Sprintf("partially succeeded with %d test skips", st.Skipped)
	default:
		return "succeeded"
	}
}

// marshalReport returns the report as YAML, preceded by comment lines
// giving the reason for every skipped test (the upstream format has no
// field for it).
func marshalReport(rep *confv1.ConformanceReport, results []result) ([]byte, error) {
	body, err := yaml.Marshal(rep)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString("# Gateway API conformance report of httproute.Router, generated by the\n")
	b.WriteString("# in-process run in this directory: go test ./... -update-report\n")
	for _, r := range results {
		if r.outcome == skipped {
			fmt.Fprintf(&b, "# skipped %s: %s\n", r.test.ShortName, r.reason)
		}
	}
	b.Write(body)
	return b.Bytes(), nil
}

// sameReport reports whether two marshalled reports agree in all but
// their date.
func sameReport(a, b []byte) bool {
	return bytes.Equal(withoutDate(a), withoutDate(b))
}

func withoutDate(r []byte) []byte {
	var out [][]byte
	for line := range bytes.Lines(r) {
		if !bytes.HasPrefix(line, []byte("date:")) {
			out = append(out, line)
		}
	}
	return bytes.Join(out, nil)
}

package conformance

import (
	"flag"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/client-go/rest"
	gwconformance "sigs.k8s.io/gateway-api/conformance"
	confv1 "sigs.k8s.io/gateway-api/conformance/apis/v1"
	"sigs.k8s.io/gateway-api/conformance/tests"
	"sigs.k8s.io/gateway-api/conformance/utils/config"
	"sigs.k8s.io/gateway-api/conformance/utils/roundtripper"
	"sigs.k8s.io/gateway-api/conformance/utils/suite"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/conformance/profile"
)

var updateReport = flag.Bool("update-report", false, "rewrite report.yaml from this run")

const reportFile = "report.yaml"

// timeouts returns the suite's timeouts for the in-process cluster. Status
// is written synchronously with every write, so every wait for a condition
// succeeds on its first poll: the limits are shorter than upstream's and
// only bound how long a failing test takes. The checks themselves are
// upstream's: RequiredConsecutiveSuccesses keeps its default.
func timeouts() config.TimeoutConfig {
	tc := config.DefaultTimeoutConfig()
	wait := 3 * time.Second
	for _, d := range []*time.Duration{
		&tc.GatewayMustHaveAddress, &tc.GatewayMustHaveCondition, &tc.GatewayStatusMustHaveListeners,
		&tc.GatewayListenersMustHaveConditions, &tc.ListenerSetMustHaveCondition,
		&tc.ListenerSetListenersMustHaveConditions, &tc.GWCMustBeAccepted, &tc.HTTPRouteMustNotHaveParents,
		&tc.HTTPRouteMustHaveCondition, &tc.TLSRouteMustHaveCondition, &tc.TCPRouteMustHaveCondition,
		&tc.UDPRouteMustHaveCondition, &tc.RouteMustHaveParents, &tc.NamespacesMustBeReady,
		&tc.LatestObservedGenerationSet,
	} {
		*d = wait
	}
	tc.MaxTimeToConsistency = 5 * time.Second
	tc.RequestTimeout = 5 * time.Second
	tc.DefaultTestTimeout = 10 * time.Second
	tc.TestIsolation = 0
	return tc
}

func implementation() confv1.Implementation {
	return confv1.Implementation{
		Organization: "httproute",
		Project:      "httproute",
		URL:          "https://github.com/httproute/httproute",
		Version:      "main",
		Contact:      []string{"https://github.com/httproute/httproute/issues"},
	}
}

// TestConformance runs the upstream conformance tests against the Router
// and checks the report.
func TestConformance(t *testing.T) {
	level := slog.LevelError
	if testing.Verbose() {
		level = slog.LevelWarn
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	c, err := newCluster(logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)

	tc := timeouts()
	supported := profile.Supported(httproute.SupportedFeatures())
	opts := suite.ConformanceOptions{
		ConfigurableOptions: suite.ConfigurableOptions{
			GatewayClassName:     gatewayClassName,
			SupportedFeatures:    httproute.SupportedFeatures(),
			ConformanceProfiles:  profile.Names(),
			TimeoutConfig:        tc,
			CleanupBaseResources: false,
			CleanupTestResources: true,
			Mode:                 "default",
			Implementation:       implementation(),
		},
		Client:          c.client,
		Clientset:       c.clientset,
		RestConfig:      &rest.Config{},
		RoundTripper:    &roundTripper{inner: &roundtripper.DefaultRoundTripper{TimeoutConfig: tc, CustomDialContext: c.net.DialContext}, net: c.net},
		WebSocketDialer: &wsDialer{net: c.net, timeout: tc.RequestTimeout},
		GRPCClient:      &grpcClient{net: c.net},
		ManifestFS:      []fs.FS{&gwconformance.Manifests},
	}
	s, err := suite.NewConformanceTestSuite(opts)
	if err != nil {
		t.Fatal(err)
	}
	s.Setup(t, tests.ConformanceTests)

	run, results := plan(tests.ConformanceTests, supported)
	// Each outcome is recorded when its test ends, in a Cleanup: tests
	// that call t.Parallel return from t.Run before they have run, and
	// finish only after this function returns. The report is checked in
	// the parent's Cleanup, which runs after every subtest has ended.
	var mu sync.Mutex
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		checkReport(t, buildReport(results, supported, implementation(), time.Now()), results)
	})
	for _, test := range run {
		t.Run(test.ShortName, func(t *testing.T) {
			t.Cleanup(func() {
				r := result{test: test, outcome: passed}
				switch {
				case t.Failed():
					r.outcome = failed
				case t.Skipped():
					r.outcome = skipped
					r.reason = "skipped by the test itself"
				}
				mu.Lock()
				results = append(results, r)
				mu.Unlock()
			})
			test.Run(t, s)
		})
	}
}

// checkReport compares the report of the run with report.yaml, or rewrites
// it with -update-report.
func checkReport(t *testing.T, rep *confv1.ConformanceReport, results []result) {
	t.Helper()
	got, err := marshalReport(rep, results)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(reportFile)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if sameReport(want, got) {
		return
	}
	if *updateReport {
		if err := os.WriteFile(reportFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", reportFile)
		return
	}
	t.Errorf("%s is stale: regenerate it with go test ./... -update-report (-want +got):\n%s", reportFile,
		cmp.Diff(strings.Split(string(withoutDate(want)), "\n"), strings.Split(string(withoutDate(got)), "\n")))
}

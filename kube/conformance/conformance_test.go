package conformance

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"
	gwconformance "sigs.k8s.io/gateway-api/conformance"
	"sigs.k8s.io/gateway-api/conformance/tests"
	"sigs.k8s.io/gateway-api/conformance/utils/config"
	"sigs.k8s.io/gateway-api/conformance/utils/suite"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"
	"sigs.k8s.io/gateway-api/pkg/features"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/conformance/profile"
	"github.com/httproute/httproute/kube"
	"github.com/httproute/httproute/kube/internal/testenv"
)

// gatewayClassName is the class the suite runs with.
const gatewayClassName = "httproute"

// notRunnable lists the tests of the profile that cannot pass through
// the cluster mode, with the reason.
var notRunnable = map[string]string{
	"GatewayInfrastructureMetadata": "it looks for the ServiceAccounts, Pods or Services a controller provisions for a Gateway; " +
		"the kube controller serves Gateways from its own replicas and provisions nothing",
}

// gatewayAddresses gives each Gateway a loopback address of its own,
// 127.R.x.y with R drawn once per run, so that two runs on one machine
// rarely meet; the Gateway's listeners are served there on their own
// ports, and the address is written into its status.
type gatewayAddresses struct {
	mu    sync.Mutex
	base  int
	next  int
	addrs map[types.NamespacedName]string
}

func newGatewayAddresses() *gatewayAddresses {
	return &gatewayAddresses{base: 100 + rand.IntN(150), addrs: map[types.NamespacedName]string{}}
}

func (a *gatewayAddresses) host(nn types.NamespacedName) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if h, ok := a.addrs[nn]; ok {
		return h
	}
	a.next++
	h := fmt.Sprintf("127.%d.%d.%d", a.base, a.next/250, 1+a.next%250)
	a.addrs[nn] = h
	return h
}

func (a *gatewayAddresses) status(nn types.NamespacedName) []gatewayv1.GatewayStatusAddress {
	return []gatewayv1.GatewayStatusAddress{{Type: new(gatewayv1.IPAddressType), Value: a.host(nn)}}
}

// TestConformance runs the upstream conformance suite against a real API
// server, with the kube Controller (as the ServiceAccount of
// kube/deploy/rbac.yaml) serving the Gateways on loopback addresses, and
// upstream's timeouts. The tests are those of the GATEWAY-HTTP and
// GATEWAY-GRPC profiles whose features httproute.SupportedFeatures claims
// (the cluster mode feeds the Router all it serves); every one
// of them must pass.
func TestConformance(t *testing.T) {
	ctx := context.Background()
	level := slog.LevelError
	if testing.Verbose() {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	admin, err := kubernetes.NewForConfig(env.Admin)
	if err != nil {
		t.Fatal(err)
	}
	n, err := startNode(ctx, env.Admin, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.close)

	gcs, err := gatewayclient.NewForConfig(env.Admin)
	if err != nil {
		t.Fatal(err)
	}
	_, err = gcs.GatewayV1().GatewayClasses().Create(ctx, &gatewayv1.GatewayClass{
		ObjectMeta: metav1.ObjectMeta{Name: gatewayClassName},
		Spec:       gatewayv1.GatewayClassSpec{ControllerName: httproute.DefaultControllerName},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	addrs := newGatewayAddresses()
	ls := &kube.Listeners{GatewayHost: addrs.host, Logger: logger}
	t.Cleanup(ls.Close)
	// Every class of the controllerName, as the GatewayClass tests create
	// classes of their own.
	ctrl, err := kube.New(env.Controller, kube.Options{
		Resolver:  n.resolver(),
		Addresses: addrs.status,
		OnUpdate: func(rt *httproute.Router, gws []*gatewayv1.Gateway) {
			if err := ls.Sync(rt, gws); err != nil {
				logger.Error("serving listeners", "err", err)
			}
		},
		LeaderElection: kube.LeaderElection{Namespace: "httproute-system"},
		Logger:         logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	ls.Wrap = ctrl.Gate
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- ctrl.Run(runCtx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Controller.Run: %v", err)
		}
	})

	c, err := client.New(env.Admin, client.Options{Scheme: scheme(t)})
	if err != nil {
		t.Fatal(err)
	}
	claimed := httproute.SupportedFeatures()
	supported := profile.Supported(claimed)
	s, err := suite.NewConformanceTestSuite(suite.ConformanceOptions{
		ConfigurableOptions: suite.ConfigurableOptions{
			GatewayClassName:     gatewayClassName,
			SupportedFeatures:    claimed,
			ConformanceProfiles:  profile.Names(),
			TimeoutConfig:        config.DefaultTimeoutConfig(),
			CleanupBaseResources: false,
			CleanupTestResources: true,
			Mode:                 "default",
		},
		Client:     c,
		Clientset:  admin,
		RestConfig: env.Admin,
		ManifestFS: []fs.FS{&gwconformance.Manifests},
	})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	s.Setup(t, tests.ConformanceTests)
	t.Logf("suite set up in %s", time.Since(start).Round(time.Millisecond))

	run, skipped := plan(tests.ConformanceTests, supported)
	var (
		mu             sync.Mutex
		passed, failed []string
	)
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		slices.Sort(failed)
		for _, p := range profile.All() {
			var np, nf int
			for _, test := range run {
				switch {
				case !profile.Includes(p, test):
				case slices.Contains(failed, test.ShortName):
					nf++
				case slices.Contains(passed, test.ShortName):
					np++
				}
			}
			t.Logf("cluster mode, %s profile: %d passed, %d failed", p.Name, np, nf)
		}
		t.Logf("cluster mode, all profiles: %d tests, %d passed, %d failed, %d skipped (%s); failed: %v",
			len(run), len(passed), len(failed), len(skipped), strings.Join(skipped, ", "), failed)
	})
	for _, test := range run {
		t.Run(test.ShortName, func(t *testing.T) {
			t.Cleanup(func() {
				mu.Lock()
				defer mu.Unlock()
				if t.Failed() {
					failed = append(failed, test.ShortName)
				} else {
					passed = append(passed, test.ShortName)
				}
			})
			test.Run(t, s)
		})
	}
}

// plan returns the tests of the profiles whose features are all
// supported, and the names of those among them that cannot run.
func plan(all []suite.ConformanceTest, supported sets.Set[features.FeatureName]) (run []suite.ConformanceTest, skipped []string) {
	for _, t := range all {
		if !profile.InAny(t) || !supported.HasAll(t.Features...) {
			continue
		}
		if _, blocked := notRunnable[t.ShortName]; blocked {
			skipped = append(skipped, t.ShortName)
			continue
		}
		run = append(run, t)
	}
	return run, skipped
}

// env is the control plane of the package's tests; the controller runs as
// the ServiceAccount of kube/deploy/rbac.yaml.
var env *testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.Main(m, &env, "../deploy/rbac.yaml")) }

// scheme is the suite client's scheme: the built-in kinds, CRDs and the
// Gateway API's.
func scheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	if err := errors.Join(clientgoscheme.AddToScheme(s), apiextensionsv1.AddToScheme(s), gatewayv1.Install(s), gatewayv1beta1.Install(s)); err != nil {
		t.Fatal(err)
	}
	return s
}

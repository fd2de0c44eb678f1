package conformance

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	confv1 "sigs.k8s.io/gateway-api/conformance/apis/v1"
	"sigs.k8s.io/gateway-api/conformance/utils/kubernetes"
	"sigs.k8s.io/gateway-api/conformance/utils/suite"
	"sigs.k8s.io/gateway-api/pkg/features"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/conformance/profile"
	"github.com/httproute/httproute/internal/podnet"
)

func testCluster(t *testing.T) *cluster {
	t.Helper()
	c, err := newCluster(slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func mustCreate(t *testing.T, c *cluster, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := c.client.Create(context.Background(), o); err != nil {
			t.Fatal(err)
		}
	}
}

func echoDeployment(ns, name string, replicas int32) *appsv1.Deployment {
	fieldEnv := func(env, path string) corev1.EnvVar {
		return corev1.EnvVar{Name: env, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}}
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: name,
					Env:  []corev1.EnvVar{fieldEnv("POD_NAME", "metadata.name"), fieldEnv("NAMESPACE", "metadata.namespace")},
				}}},
			},
		},
	}
}

// TestPodLogs checks that each replica's log holds only its own requests:
// the mirror tests count lines across replicas.
func TestPodLogs(t *testing.T) {
	c := testCluster(t)
	ctx := context.Background()
	mustCreate(t, c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns"}}, echoDeployment("ns", "app", 2))

	var pods corev1.PodList
	if err := c.client.List(ctx, &pods, client.InNamespace("ns")); err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 2 {
		t.Fatalf("got %d pods, want 2", len(pods.Items))
	}
	p := pods.Items[0]
	if !strings.HasPrefix(p.Name, "app-") || p.Status.PodIP == "" || !podnet.Ready(&p) {
		t.Errorf("pod %s: want a Ready pod named after its Deployment, with an IP; got %+v", p.Name, p.Status)
	}

	before := time.Now().Add(-time.Second)
	addr := c.backend.Addr(types.NamespacedName{Namespace: p.Namespace, Name: p.Name}, podnet.EchoHTTPPort)
	res, err := http.Get("http://" + addr + "/logged?x=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(body), `"pod": "`+p.Name+`"`) || !strings.Contains(string(body), `"namespace": "ns"`) {
		t.Errorf("echo does not report its pod and namespace: %s", body)
	}

	count := func(since time.Time) int {
		logs, err := kubernetes.DumpEchoLogs(ctx, "ns", "app", c.client, c.clientset, since)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, l := range logs {
			if strings.HasPrefix(l, "Echoing back request made to /logged?x=1 to client") {
				n++
			}
		}
		return n
	}
	if n := count(before); n != 1 {
		t.Errorf("the request appears %d times in the logs of the app, want 1", n)
	}
	if n := count(time.Now().Add(time.Second)); n != 0 {
		t.Errorf("logs since a later time have the request %d times, want 0", n)
	}
}

// TestGeneration checks the API server behaviour the suite relies on:
// generation 1 on create, a bump only when the spec changes, status kept
// across spec writes and written with the observed generation.
func TestGeneration(t *testing.T) {
	c := testCluster(t)
	ctx := context.Background()
	gw := &gatewayv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "gw"},
		Spec: gatewayv1.GatewaySpec{
			GatewayClassName: gatewayClassName,
			Listeners:        []gatewayv1.Listener{{Name: "http", Port: 80, Protocol: gatewayv1.HTTPProtocolType}},
		},
	}
	mustCreate(t, c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns"}}, gw)
	nn := types.NamespacedName{Namespace: "ns", Name: "gw"}
	check := func(step string, wantGen int64) {
		t.Helper()
		got := &gatewayv1.Gateway{}
		if err := c.client.Get(ctx, nn, got); err != nil {
			t.Fatal(err)
		}
		if got.Generation != wantGen {
			t.Errorf("%s: generation %d, want %d", step, got.Generation, wantGen)
		}
		if got.CreationTimestamp.IsZero() {
			t.Errorf("%s: no creation timestamp", step)
		}
		if err := kubernetes.ConditionsHaveLatestObservedGeneration(got, got.Status.Conditions); err != nil || len(got.Status.Conditions) == 0 {
			t.Errorf("%s: status conditions %v: %v", step, got.Status.Conditions, err)
		}
		if len(got.Status.Addresses) != 1 {
			t.Errorf("%s: status addresses %v, want one", step, got.Status.Addresses)
		}
	}
	check("create", 1)

	cur := &gatewayv1.Gateway{}
	if err := c.client.Get(ctx, nn, cur); err != nil {
		t.Fatal(err)
	}
	cur.Labels = map[string]string{"only": "metadata"}
	if err := c.client.Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
	check("update of metadata", 1)

	patched := cur.DeepCopy()
	patched.Spec.Listeners[0].Port = 8080
	if err := c.client.Patch(ctx, patched, client.MergeFrom(cur)); err != nil {
		t.Fatal(err)
	}
	if patched.Generation != 2 {
		t.Errorf("patched object: generation %d, want 2", patched.Generation)
	}
	check("patch of spec", 2)
}

func TestNamespaceLabel(t *testing.T) {
	c := testCluster(t)
	mustCreate(t, c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns"}})
	ns := &corev1.Namespace{}
	if err := c.client.Get(context.Background(), types.NamespacedName{Name: "ns"}, ns); err != nil {
		t.Fatal(err)
	}
	if got := ns.Labels[corev1.LabelMetadataName]; got != "ns" {
		t.Errorf("label %s = %q, want ns", corev1.LabelMetadataName, got)
	}
}

func TestResolveService(t *testing.T) {
	b := newBackends(slog.New(slog.DiscardHandler))
	svc := func(name, appProtocol string) corev1.Service {
		s := corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}}
		p := corev1.ServicePort{Port: 8080}
		if appProtocol != "" {
			p.AppProtocol = &appProtocol
		}
		s.Spec.Ports = []corev1.ServicePort{p}
		return s
	}
	r := b.resolver([]corev1.Service{svc("plain", ""), svc("ws", httproute.AppProtocolWS), svc("odd", "example.com/odd")}, nil, nil)
	ref := func(name string, port int32) httproute.BackendRef {
		return httproute.BackendRef{ObjectRef: httproute.ObjectRef{Kind: "Service", Namespace: "ns", Name: name}, Port: port}
	}
	tests := []struct {
		name    string
		ref     httproute.BackendRef
		wantErr error
	}{
		{"missing service", ref("nope", 8080), httproute.ErrNotFound},
		{"missing port", ref("plain", 80), httproute.ErrNotFound},
		{"unknown appProtocol", ref("odd", 8080), httproute.ErrUnsupported},
		{"plain", ref("plain", 8080), nil},
		{"websocket", ref("ws", 8080), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			be, err := r.ResolveService(tc.ref)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr != nil) != (err != nil) {
				t.Fatalf("error %v, want %v", err, tc.wantErr)
			}
			if err == nil {
				if _, ok := be.(*httproute.Upstream); !ok {
					t.Errorf("backend is %T, want *httproute.Upstream", be)
				}
			}
		})
	}
}

func TestDialRefusesUnknownAddresses(t *testing.T) {
	n := newNetwork(slog.New(slog.DiscardHandler))
	if _, err := n.DialContext(context.Background(), "tcp", "127.0.1.1:80"); err == nil {
		t.Error("dialing an address no Gateway has succeeded")
	}
}

func TestReport(t *testing.T) {
	test := func(name string, fs ...features.FeatureName) suite.ConformanceTest {
		return suite.ConformanceTest{ShortName: name, Features: fs}
	}
	core := []features.FeatureName{features.SupportGateway, features.SupportHTTPRoute}
	results := []result{
		{test: test("B", core...), outcome: passed},
		{test: test("A", core...), outcome: failed},
		{test: test("C", append(core, features.SupportHTTPRouteQueryParamMatching)...), outcome: skipped, reason: "why"},
	}
	supported := profile.Supported([]features.FeatureName{features.SupportHTTPRouteQueryParamMatching})
	rep := buildReport(results, supported, implementation(), time.Unix(0, 0))
	pr := rep.ProfileReports[0]
	if pr.Core.Result != confv1.Failure || pr.Core.Passed != 1 || pr.Core.Failed != 1 || len(pr.Core.FailedTests) != 1 || pr.Core.FailedTests[0] != "A" {
		t.Errorf("core = %+v", pr.Core)
	}
	if pr.Extended.Result != confv1.Partial || pr.Extended.Skipped != 1 {
		t.Errorf("extended = %+v", pr.Extended.Status)
	}
	if pr.Summary != "Core tests failed with 1 test failures. Extended tests partially succeeded with 1 test skips." {
		t.Errorf("summary = %q", pr.Summary)
	}
	a, err := marshalReport(rep, results)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(a), "# skipped C: why\n") {
		t.Errorf("the report does not give the reason of the skip:\n%s", a)
	}
	b, _ := marshalReport(buildReport(results, supported, implementation(), time.Unix(3600, 0)), results)
	if !sameReport(a, b) {
		t.Error("reports differing only in date are not the same")
	}
	for i := range results {
		if results[i].test.ShortName == "B" {
			results[i].outcome = failed
		}
	}
	c, _ := marshalReport(buildReport(results, supported, implementation(), time.Unix(0, 0)), results)
	if sameReport(a, c) {
		t.Error("reports with different outcomes are the same")
	}
}

func TestPlan(t *testing.T) {
	test := func(name string, fs ...features.FeatureName) suite.ConformanceTest {
		return suite.ConformanceTest{ShortName: name, Features: fs}
	}
	all := []suite.ConformanceTest{
		test("HTTPRouteSimple", features.SupportGateway, features.SupportHTTPRoute),
		test("HTTPRouteNeedsRetry", features.SupportGateway, features.SupportHTTPRoute, features.SupportHTTPRouteRetryCodes),
		test("GatewayClassObservedGenerationBump", features.SupportGateway),
		test("GatewayInfrastructureMetadata", features.SupportGateway, features.SupportGatewayInfrastructure),
		test("TLSRouteSimple", features.SupportGateway, features.SupportTLSRoute),
	}
	run, skip := plan(all, profile.Supported([]features.FeatureName{features.SupportGatewayInfrastructure, features.SupportTLSRoute}))
	var ran []string
	for _, r := range run {
		ran = append(ran, r.ShortName)
	}
	if !slices.Equal(ran, []string{"HTTPRouteSimple", "GatewayClassObservedGenerationBump"}) {
		t.Errorf("run %v, want [HTTPRouteSimple GatewayClassObservedGenerationBump]: unsupported features and other profiles are left out", ran)
	}
	var skipped []string
	for _, r := range skip {
		if r.reason == "" {
			t.Errorf("%s skipped without a reason", r.test.ShortName)
		}
		skipped = append(skipped, r.test.ShortName)
	}
	if !slices.Equal(skipped, []string{"GatewayInfrastructureMetadata"}) {
		t.Errorf("skipped %v, want the not-runnable test", skipped)
	}
}

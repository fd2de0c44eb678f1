package promroute_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/promroute"
)

const rules = `metadata: {name: shop, namespace: default}
spec:
  rules:
  - name: ok
    matches: [{path: {value: /ok}}]
    backendRefs: [{name: ok, port: 80}]
  - name: flaky
    matches: [{path: {value: /flaky}}]
    backendRefs: [{name: flaky, port: 80}]
    retry: {codes: [503], attempts: 1, backoff: 1ms}
  - name: slow
    matches: [{path: {value: /slow}}]
    backendRefs: [{name: slow, port: 80}]
    timeouts: {backendRequest: 20ms}
  - name: mirrored
    matches: [{path: {value: /mirrored}}]
    backendRefs: [{name: ok, port: 80}]
    filters: [{type: RequestMirror, requestMirror: {backendRef: {name: ok, port: 80}}}]
`

// shop returns the Config of the test route with its in-process backends.
func shop(t testing.TB) httproute.Config {
	var route gatewayv1.HTTPRoute
	if err := yaml.UnmarshalStrict([]byte(rules), &route); err != nil {
		t.Fatal(err)
	}
	var flakyCalls atomic.Int64
	return httproute.Config{
		HTTPRoutes: []*gatewayv1.HTTPRoute{&route},
		Services: httproute.Services{
			{Namespace: "default", Name: "ok", Port: 80}: httproute.InProcess(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				io.WriteString(w, "ok")
			})),
			{Namespace: "default", Name: "flaky", Port: 80}: httproute.InProcess(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if flakyCalls.Add(1)%2 == 1 {
					w.WriteHeader(503)
				}
			})),
			{Namespace: "default", Name: "slow", Port: 80}: httproute.InProcess(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-r.Context().Done():
				case <-time.After(5 * time.Second):
				}
			})),
		},
	}
}

// scrape fetches the registry's exposition over HTTP on loopback, as
// Prometheus would, and returns every sample of the families named, keyed
// by family and labels (histograms by their _count); zero samples (the
// children created with a series) are left out.
func scrape(t *testing.T, url string, families ...string) map[string]float64 {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("Content-Type %q", ct)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, name := range families {
		mf := mfs[name]
		if mf == nil {
			continue
		}
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, lp := range m.GetLabel() {
				labels = append(labels, lp.GetName()+"="+lp.GetValue())
			}
			sort.Strings(labels)
			key := name + "{" + strings.Join(labels, ",") + "}"
			var v float64
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				v = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				v = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				v = float64(m.GetHistogram().GetSampleCount())
			default:
				t.Fatalf("%s: unexpected type %v", name, mf.GetType())
			}
			if v != 0 {
				out[key] = v
			}
		}
	}
	return out
}

// TestMetricsScrapedOverHTTP: requests served (retried, timed out,
// unmatched, mirrored), events and updates show in the exposition that
// promhttp serves from a real registry.
func TestMetricsScrapedOverHTTP(t *testing.T) {
	reg := prometheus.NewRegistry()
	metrics, err := promroute.New(reg, promroute.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()

	cfg := shop(t)
	cfg.Observer = metrics
	rt, err := httproute.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, req := range []*http.Request{
		httptest.NewRequest("GET", "/ok", nil),
		httptest.NewRequest("POST", "/ok", strings.NewReader("12345")),
		httptest.NewRequest("GET", "/flaky", nil),
		httptest.NewRequest("GET", "/slow", nil),
		httptest.NewRequest("GET", "/nothing", nil),
		httptest.NewRequest("POST", "/mirrored", strings.NewReader(strings.Repeat("x", 70<<10))),
	} {
		rt.ServeHTTP(httptest.NewRecorder(), req)
	}
	// An Upstream reports ejections through the Router's observer; here
	// the event is given directly.
	metrics.ObserveEjection(httproute.Ejection{Endpoint: "10.0.0.1:80", Duration: 30 * time.Second, Reason: httproute.EjectConnectFailures})
	// An update with a problem (a backendRef that does not resolve),
	// then one that fails (Strict).
	bad := shop(t)
	bad.Observer = metrics
	bad.Services = nil
	if err := rt.Update(bad); err != nil {
		t.Fatal(err)
	}
	bad.Strict = true
	if err := rt.Update(bad); err == nil {
		t.Fatal("strict update succeeded")
	}

	got := scrape(t, srv.URL, "httproute_requests_total", "httproute_request_duration_seconds", "httproute_request_bytes_total",
		"httproute_response_bytes_total", "httproute_upstream_attempts_total", "httproute_retries_total", "httproute_timeouts_total",
		"httproute_mirror_drops_total", "httproute_endpoint_ejections_total", "httproute_config_updates_total", "httproute_config_problems")
	// sample names a sample of the test route's rule, with its labels in
	// the exposition's (sorted) order.
	sample := func(family, rule, backend string, extra ...string) string {
		labels := append([]string{"backend=" + backend, "gateway=", "route=default/shop", "rule=" + rule}, extra...)
		if rule == "" {
			labels[2] = "route="
		}
		sort.Strings(labels)
		return family + "{" + strings.Join(labels, ",") + "}"
	}
	want := map[string]float64{
		sample("httproute_requests_total", "ok", "default/ok:80", "code_class=2xx"):                         2,
		sample("httproute_requests_total", "flaky", "default/flaky:80", "code_class=2xx"):                   1,
		sample("httproute_requests_total", "slow", "default/slow:80", "code_class=5xx"):                     1,
		sample("httproute_requests_total", "mirrored", "default/ok:80", "code_class=2xx"):                   1,
		sample("httproute_requests_total", "", "", "code_class=4xx"):                                        1,
		sample("httproute_request_duration_seconds", "ok", "default/ok:80", "code_class=2xx"):               2,
		sample("httproute_request_duration_seconds", "flaky", "default/flaky:80", "code_class=2xx"):         1,
		sample("httproute_request_duration_seconds", "slow", "default/slow:80", "code_class=5xx"):           1,
		sample("httproute_request_duration_seconds", "mirrored", "default/ok:80", "code_class=2xx"):         1,
		sample("httproute_request_duration_seconds", "", "", "code_class=4xx"):                              1,
		sample("httproute_request_bytes_total", "ok", "default/ok:80", "code_class=2xx"):                    5,
		sample("httproute_request_bytes_total", "mirrored", "default/ok:80", "code_class=2xx"):              70 << 10,
		sample("httproute_response_bytes_total", "ok", "default/ok:80", "code_class=2xx"):                   4,
		sample("httproute_response_bytes_total", "mirrored", "default/ok:80", "code_class=2xx"):             2,
		sample("httproute_response_bytes_total", "slow", "default/slow:80", "code_class=5xx"):               16,
		sample("httproute_response_bytes_total", "", "", "code_class=4xx"):                                  10,
		sample("httproute_upstream_attempts_total", "ok", "default/ok:80", "outcome=2xx"):                   2,
		sample("httproute_upstream_attempts_total", "flaky", "default/flaky:80", "outcome=5xx"):             1,
		sample("httproute_upstream_attempts_total", "flaky", "default/flaky:80", "outcome=2xx"):             1,
		sample("httproute_upstream_attempts_total", "slow", "default/slow:80", "outcome=timeout"):           1,
		sample("httproute_upstream_attempts_total", "mirrored", "default/ok:80", "outcome=2xx"):             1,
		sample("httproute_retries_total", "flaky", "default/flaky:80"):                                      1,
		sample("httproute_timeouts_total", "slow", "default/slow:80", "timeout=backend_request"):            1,
		"httproute_mirror_drops_total{backend=default/ok:80,reason=BodyTooLarge,route=default/shop,rule=3}": 1,
		"httproute_endpoint_ejections_total{endpoint=10.0.0.1:80,reason=ConsecutiveConnectFailures}":        1,
		"httproute_config_updates_total{result=success}":                                                    2,
		"httproute_config_updates_total{result=failure}":                                                    1,
		// The update's five backendRefs (the mirror's included) that do
		// not resolve without a ServiceResolver.
		"httproute_config_problems{}": 5,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("scraped samples (-want +got):\n%s", diff)
	}
}

// TestRegisteringTwiceFails: the collectors are registered with the
// registry given, so a second Metrics with the same names is an error.
func TestRegisteringTwiceFails(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := promroute.New(reg, promroute.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := promroute.New(reg, promroute.Options{}); err == nil {
		t.Error("second New on the same registry succeeded")
	}
	if _, err := promroute.New(reg, promroute.Options{Namespace: "edge"}); err != nil {
		t.Errorf("New with another namespace: %v", err)
	}
}

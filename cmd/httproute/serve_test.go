package main

import (
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"sigs.k8s.io/yaml"

	"github.com/httproute/httproute/internal/testcert"
)

// TestServeReloadUnderLoad edits the configuration 100 times while
// clients send requests without pause: every request must succeed, and
// every edit must come to serve. It logs the figures of BENCHMARKS.md:
// the requests sent and their latency, and the reload latency (from the
// file written to the first answer of the new table).
func TestServeReloadUnderLoad(t *testing.T) {
	// The default debounce, and a short one that reloads as fast as
	// the files are written.
	for _, debounce := range []string{"100ms", "10ms"} {
		t.Run("debounce "+debounce, func(t *testing.T) { reloadUnderLoad(t, debounce) })
	}
}

func reloadUnderLoad(t *testing.T, debounce string) {
	u := newUpstream(t)
	dir := configDir(t, u)
	g := startGateway(t, "-config", dir, "-bind", "80=127.0.0.1:0", "-access-log=false", "-debounce", debounce)
	addr := g.listener(80)

	const workers = 4
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	var latencies []time.Duration
	for w := range workers {
		wg.Go(func() {
			c := &http.Client{Timeout: 5 * time.Second}
			path := []string{"/edit", "/"}[w%2]
			for {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				resp, err := c.Get("http://" + addr + path)
				d := time.Since(start)
				var problem string
				if err != nil {
					problem = err.Error()
				} else {
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK || string(body) != "upstream\n" {
						problem = fmt.Sprintf("%s: %d %q", path, resp.StatusCode, body)
					}
				}
				mu.Lock()
				latencies = append(latencies, d)
				if problem != "" {
					failures = append(failures, problem)
				}
				mu.Unlock()
			}
		})
	}

	const edits = 100
	probe := &http.Client{Timeout: 5 * time.Second}
	reload := make([]time.Duration, 0, edits)
	start := time.Now()
	for v := 2; v <= edits+1; v++ {
		written := time.Now()
		// Half the edits rewrite the file in place (truncate, write),
		// half replace it (write a temporary file, rename it).
		if v%2 == 0 {
			writeFile(t, filepath.Join(dir, "routes.yaml"), routesYAML(v))
		} else {
			replaceFile(t, filepath.Join(dir, "routes.yaml"), routesYAML(v))
		}
		want := strconv.Itoa(v)
		g.waitFor("version "+want, func() bool { return version(probe, addr) == want })
		reload = append(reload, time.Since(written))
	}
	elapsed := time.Since(start)
	close(stop)
	wg.Wait()

	if len(failures) > 0 {
		t.Errorf("%d of %d requests failed during %d reloads; first ones:\n%s", len(failures), len(latencies), edits, strings.Join(failures[:min(10, len(failures))], "\n"))
	}
	st := g.status()
	if st.Config == nil || st.Config.Applies != edits+1 || st.Config.Error != "" {
		t.Errorf("status.config = %+v, want %d configurations applied and no error", st.Config, edits+1)
	}
	t.Logf("%d edits in %v; %d requests by %d clients (%.0f/s), 0 failed: latency p50 %v, p99 %v, max %v",
		edits, elapsed.Round(time.Millisecond), len(latencies), workers, float64(len(latencies))/elapsed.Seconds(),
		quantile(latencies, 0.5), quantile(latencies, 0.99), quantile(latencies, 1))
	t.Logf("reload latency (file written to new table serving, debounce %s): p50 %v, p90 %v, max %v",
		debounce, quantile(reload, 0.5), quantile(reload, 0.9), quantile(reload, 1))
}

// quantile returns the q-quantile of ds (the nearest rank).
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))].Round(10 * time.Microsecond)
}

// TestServeKeepsTableOnBadConfig breaks the configuration in the ways an
// operator does: each reload is refused or fails, /status and /metrics say
// so, and the last good table keeps serving until the files are fixed.
func TestServeKeepsTableOnBadConfig(t *testing.T) {
	u := newUpstream(t)
	dir := configDir(t, u)
	g := startGateway(t, "-config", dir, "-bind", "80=127.0.0.1:0")
	addr := g.listener(80)
	c := &http.Client{Timeout: 5 * time.Second}
	routes := filepath.Join(dir, "routes.yaml")

	tests := []struct {
		name  string
		files map[string]string
		// wantErr is in /status's config.error.
		wantErr string
	}{{
		name:    "routes file emptied",
		files:   map[string]string{"routes.yaml": ""},
		wantErr: "configuration refused: it removes 2 of the 2 HTTPRoutes (100%, more than WatchConfig.MaxDrop 50%)",
	}, {
		name:    "every file emptied",
		files:   map[string]string{"routes.yaml": "", "gateway.yaml": "", "app.yaml": "# truncated\n"},
		wantErr: "configuration refused: it has no objects",
	}, {
		name:    "malformed YAML",
		files:   map[string]string{"routes.yaml": routesYAML(7)[:120]},
		wantErr: "routes.yaml:",
	}, {
		name:    "invalid value",
		files:   map[string]string{"routes.yaml": strings.Replace(routesYAML(7), "PathPrefix", "Prefix", 1)},
		wantErr: `routes.yaml:15:23: httproute default/edit: spec.rules[0].matches[0].path.type: Unsupported value: "Prefix"`,
	}}
	good := map[string][]byte{}
	for _, name := range []string{"routes.yaml", "gateway.yaml", "app.yaml"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		good[name] = b
	}
	for _, tt := range tests {
		before := g.status().Config.Reloads
		for name, content := range tt.files {
			writeFile(t, filepath.Join(dir, name), content)
		}
		g.waitFor(tt.name+": a failed reload", func() bool {
			st := g.status()
			return st.Config.Reloads > before && st.Config.Error != ""
		})
		st := g.status()
		if !strings.Contains(st.Config.Error, tt.wantErr) {
			t.Errorf("%s: status.config.error = %q, want it to contain %q", tt.name, st.Config.Error, tt.wantErr)
		}
		if got := version(c, addr); got != "1" {
			t.Errorf("%s: GET /edit serves version %q, want the old table's 1", tt.name, got)
		}
		if code, _ := g.get("/readyz"); code != http.StatusOK {
			t.Errorf("%s: /readyz %d, want 200: the old table serves", tt.name, code)
		}
		for name, content := range good {
			writeFile(t, filepath.Join(dir, name), string(content))
		}
	}
	writeFile(t, routes, routesYAML(2))
	g.waitFor("version 2", func() bool { return version(c, addr) == "2" })
	if st := g.status(); st.Config.Error != "" {
		t.Errorf("status.config.error = %q after a good reload, want none", st.Config.Error)
	}

	families := metrics(t, g)
	got := map[string]float64{
		"reloads refused": value(families, "httproute_config_reloads_total", "result", "refused"),
		"reloads error":   value(families, "httproute_config_reloads_total", "result", "error"),
		"reload failing":  value(families, "httproute_config_reload_failing", "", ""),
	}
	want := map[string]float64{"reloads refused": 2, "reloads error": 2, "reload failing": 0}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("metrics (-want +got):\n%s", diff)
	}
	if n := value(families, "httproute_requests_total", "route", "default/edit"); n < float64(len(tests)) {
		t.Errorf("httproute_requests_total{route=\"default/edit\"} = %v, want at least %d", n, len(tests))
	}
}

// metrics reads /metrics with Prometheus's own text parser.
func metrics(t *testing.T, g *gatewayProc) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := g.get("/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	return families
}

// value sums the counters or gauges of a family whose label is value
// (every series when label is "").
func value(families map[string]*dto.MetricFamily, name, label, value string) float64 {
	var sum float64
	for _, m := range families[name].GetMetric() {
		if label != "" && !slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool {
			return l.GetName() == label && l.GetValue() == value
		}) {
			continue
		}
		sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
	}
	return sum
}

// TestServeDrainsOnSIGTERM sends SIGTERM while a slow request is in
// flight: the ports stop accepting connections, the request completes
// with 200, and the process exits 0. A second signal ends the grace
// period: the request's connection is closed, and the exit is still 0.
func TestServeDrainsOnSIGTERM(t *testing.T) {
	tests := []struct {
		name string
		// slow is how long the upstream takes to answer.
		slow   string
		second os.Signal
		want   string
	}{{
		name: "drained",
		slow: "1500ms",
		want: "200 \"upstream\\n\"",
	}, {
		name:   "second signal",
		slow:   "60s",
		second: syscall.SIGINT,
		want:   "EOF",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newUpstream(t)
			g := startGateway(t, "-config", configDir(t, u), "-bind", "80=127.0.0.1:0", "-shutdown-grace", "120s")
			addr := g.listener(80)
			slow := make(chan string, 1)
			go func() {
				resp, err := http.Get("http://" + addr + "/slow?d=" + tt.slow)
				if err != nil {
					slow <- strings.TrimPrefix(err.Error(), "Get \"http://"+addr+"/slow?d="+tt.slow+"\": ")
					return
				}
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				if err != nil {
					slow <- err.Error()
					return
				}
				slow <- fmt.Sprintf("%d %q", resp.StatusCode, b)
			}()
			select {
			case <-u.started:
			case <-time.After(10 * time.Second):
				t.Fatal("the slow request did not reach the upstream")
			}
			g.signal(syscall.SIGTERM)
			g.waitFor("the listener port to refuse connections", func() bool {
				conn, err := net.DialTimeout("tcp", addr, time.Second)
				if err == nil {
					conn.Close()
				}
				return err != nil
			})
			if tt.second != nil {
				g.signal(tt.second)
			}
			select {
			case got := <-slow:
				if got != tt.want {
					t.Errorf("slow request started before SIGTERM: %s, want %s", got, tt.want)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the slow request did not end")
			}
			if code := g.wait(30 * time.Second); code != 0 {
				t.Errorf("exit code %d, want 0", code)
			}
		})
	}
}

// TestServeSIGHUPReloads turns the watcher off: a changed file is not
// served until SIGHUP.
func TestServeSIGHUPReloads(t *testing.T) {
	u := newUpstream(t)
	dir := configDir(t, u)
	g := startGateway(t, "-config", dir, "-bind", "80=127.0.0.1:0", "-watch=false")
	addr := g.listener(80)
	c := &http.Client{Timeout: 5 * time.Second}

	writeFile(t, filepath.Join(dir, "routes.yaml"), routesYAML(2))
	// Five times the debounce: a watcher would have reloaded.
	time.Sleep(500 * time.Millisecond)
	if got := version(c, addr); got != "1" {
		t.Fatalf("with -watch=false, a changed file serves version %q before SIGHUP, want 1", got)
	}
	g.signal(syscall.SIGHUP)
	g.waitFor("version 2 after SIGHUP", func() bool { return version(c, addr) == "2" })
	if st := g.status(); st.Config.Applies != 2 {
		t.Errorf("status.config.applies = %d, want 2", st.Config.Applies)
	}
	g.signal(syscall.SIGINT)
	if code := g.wait(30 * time.Second); code != 0 {
		t.Errorf("exit code %d after SIGINT, want 0", code)
	}
}

// TestServeAdmin checks the admin endpoints of a serving gateway, and a
// configuration that uses what the binary registers: an HTTPS listener
// with its Secret, a DirectResponse, a kgateway static Backend.
func TestServeAdmin(t *testing.T) {
	u := newUpstream(t)
	dir := configDir(t, u)
	ca := testcert.NewCA("test CA")
	leaf := ca.Issue("secure.example")
	writeFile(t, filepath.Join(dir, "secure.yaml"), fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: cert}
type: kubernetes.io/tls
data:
  tls.crt: %s
  tls.key: %s
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: secure}
spec:
  gatewayClassName: httproute
  listeners:
  - name: https
    protocol: HTTPS
    port: 443
    hostname: secure.example
    tls: {certificateRefs: [{name: cert}]}
---
`+helloYAML("secure", "hello over TLS")+`---
apiVersion: gateway.kgateway.dev/v1alpha1
kind: Backend
metadata: {name: static}
spec:
  static:
    hosts: [{host: 127.0.0.1, port: %s}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: static}
spec:
  parentRefs: [{name: gw}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /static}}]
    backendRefs: [{group: gateway.kgateway.dev, kind: Backend, name: static}]
`, base64.StdEncoding.EncodeToString(leaf.CertPEM), base64.StdEncoding.EncodeToString(leaf.KeyPEM), u.port()))
	g := startGateway(t, "-config", dir, "-bind", "80=127.0.0.1:0", "-bind", "443=127.0.0.1:0", "-pprof")

	tlsClient := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: ca.Pool(), ServerName: "secure.example"},
		ForceAttemptHTTP2: true,
	}}
	req, _ := http.NewRequest(http.MethodGet, "https://"+g.listener(443)+"/", nil)
	req.Host = "secure.example"
	resp, err := tlsClient.Do(req)
	if err != nil {
		t.Fatalf("HTTPS listener: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "hello over TLS\n" || resp.ProtoMajor != 2 {
		t.Errorf("HTTPS listener: %s %d %q, want HTTP/2 200 \"hello over TLS\\n\"", resp.Proto, resp.StatusCode, body)
	}

	resp, err = http.Get("http://" + g.listener(80) + "/static")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "upstream\n" {
		t.Errorf("kgateway static Backend: %d %q, want 200 \"upstream\\n\"", resp.StatusCode, body)
	}

	for _, path := range []string{"/healthz", "/readyz", "/debug/pprof/"} {
		if code, body := g.get(path); code != http.StatusOK {
			t.Errorf("%s: %d %s, want 200", path, code, body)
		}
	}
	st := g.status()
	type listener struct {
		Port     int32
		Protocol string
	}
	var ls []listener
	for _, l := range st.Listeners {
		ls = append(ls, listener{l.Port, l.Protocol})
		if l.Error != "" || !strings.HasPrefix(l.Address, "127.0.0.1:") {
			t.Errorf("listener %+v, want an address on 127.0.0.1 and no error", l)
		}
	}
	if diff := cmp.Diff([]listener{{80, "HTTP"}, {443, "HTTPS"}}, ls); diff != "" {
		t.Errorf("status.listeners (-want +got):\n%s", diff)
	}
	if !st.Ready || st.Source != "files" {
		t.Errorf("status ready %v source %q, want true \"files\"", st.Ready, st.Source)
	}
	var conditions []string
	for _, name := range []string{"default/gw", "default/secure"} {
		for _, c := range st.Gateways[name].Conditions {
			conditions = append(conditions, fmt.Sprintf("gateway %s %s=%s", name, c.Type, c.Status))
		}
	}
	for _, name := range []string{"default/base", "default/edit", "default/hello", "default/static"} {
		for _, p := range st.HTTPRoutes[name].Parents {
			for _, c := range p.Conditions {
				conditions = append(conditions, fmt.Sprintf("httproute %s %s=%s", name, c.Type, c.Status))
			}
		}
	}
	wantConditions := []string{
		"gateway default/gw Accepted=True", "gateway default/gw Programmed=True", "gateway default/gw ResolvedRefs=True",
		"gateway default/secure Accepted=True", "gateway default/secure Programmed=True", "gateway default/secure ResolvedRefs=True",
		"httproute default/base Accepted=True", "httproute default/base ResolvedRefs=True",
		"httproute default/edit Accepted=True", "httproute default/edit ResolvedRefs=True",
		"httproute default/hello Accepted=True", "httproute default/hello ResolvedRefs=True",
		"httproute default/static Accepted=True", "httproute default/static ResolvedRefs=True",
	}
	if diff := cmp.Diff(wantConditions, conditions); diff != "" {
		t.Errorf("status conditions (-want +got):\n%s", diff)
	}

	families := metrics(t, g)
	if n := value(families, "httproute_requests_total", "route", "default/hello"); n != 1 {
		t.Errorf("httproute_requests_total{route=\"default/hello\"} = %v, want 1", n)
	}
	if n := value(families, "go_goroutines", "", ""); n == 0 {
		t.Error("go_goroutines missing from /metrics")
	}
}

// TestServeExample serves the README's example directory and sends the
// README's requests.
func TestServeExample(t *testing.T) {
	g := startGateway(t, "-config", "example", "-bind", "80=127.0.0.1:0")
	addr := g.listener(80)
	resp, err := http.Get("http://" + addr + "/hello")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "hello from httproute\n" || resp.Header.Get("X-Served-By") != "httproute" {
		t.Errorf("GET /hello: %d %q %v", resp.StatusCode, body, resp.Header)
	}
}

// TestServeWithoutGateways serves routes without parentRefs and no
// Gateway: the Router's implicit listener takes any port, and the ports
// served are those -bind names.
func TestServeWithoutGateways(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "routes.yaml"), helloYAML("", "no Gateway"))
	g := startGateway(t, "-config", dir, "-bind", "8080=127.0.0.1:0", "-bind", "9090=127.0.0.1:0")
	for _, port := range []int{8080, 9090} {
		resp, err := http.Get("http://" + g.listener(port) + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(body) != "no Gateway\n" {
			t.Errorf("port %d: %d %q, want 200 \"no Gateway\\n\"", port, resp.StatusCode, body)
		}
	}
}

// TestServePortTakenOnReload adds a listener port whose address is taken:
// the reload applies, /status reports the port, the other port serves.
func TestServePortTakenOnReload(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	u := newUpstream(t)
	dir := configDir(t, u)
	g := startGateway(t, "-config", dir, "-bind", "80=127.0.0.1:0", "-bind", "81="+taken.Addr().String())
	addr := g.listener(80)
	writeFile(t, filepath.Join(dir, "gateway.yaml"), `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  gatewayClassName: httproute
  listeners:
  - {name: http, protocol: HTTP, port: 80}
  - {name: http-81, protocol: HTTP, port: 81}
`)
	g.waitFor("the second configuration", func() bool { return g.status().Config.Applies == 2 })
	st := g.status()
	want := []listenerStatus{
		{Port: 80, Protocol: "HTTP", Address: addr},
		{Port: 81, Protocol: "HTTP", Address: taken.Addr().String(),
			Error: "listener port 81: listen tcp " + taken.Addr().String() + ": bind: address already in use"},
	}
	if diff := cmp.Diff(want, st.Listeners); diff != "" {
		t.Errorf("status.listeners (-want +got):\n%s", diff)
	}
	if got := version(&http.Client{Timeout: 5 * time.Second}, addr); got != "1" {
		t.Errorf("port 80 serves version %q, want 1", got)
	}
}

// TestServeUsage runs serve in process with arguments it must refuse
// before serving anything.
func TestServeUsage(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	runCases(t, "serve", []commandCase{{
		name:   "-kubeconfig with -config",
		args:   []string{"-config", "example", "-kubeconfig", "k"},
		code:   2,
		stderr: "httproute serve: -kubeconfig serves a cluster: it does not go with -config\n",
	}, {
		name:   "-watch without -config",
		args:   []string{"-watch=false"},
		code:   2,
		stderr: "httproute serve: -watch needs -config (it concerns configuration files)\n",
	}, {
		name:   "-max-drop 0",
		args:   []string{"-config", "example", "-max-drop", "0"},
		code:   2,
		stderr: "httproute serve: invalid value 0 for flag -max-drop: want a share above 0 and at most 1\n",
	}, {
		name:   "-bind without address",
		args:   []string{"-config", "example", "-bind", "80"},
		code:   2,
		stderr: `invalid value "80" for flag -bind: want PORT=ADDR with a listener port from 1 to 65535, got "80"` + "\n",
	}, {
		name:   "-bind twice",
		args:   []string{"-config", "example", "-bind", "80=127.0.0.1:1", "-bind", "80=127.0.0.1:2"},
		code:   2,
		stderr: `invalid value "80=127.0.0.1:2" for flag -bind: listener port 80 is bound twice` + "\n",
	}, {
		name:   "-log-format",
		args:   []string{"-config", "example", "-log-format", "xml"},
		code:   2,
		stderr: `httproute serve: invalid value "xml" for flag -log-format: want text or json` + "\n",
	}, {
		name:   "-pprof without -admin",
		args:   []string{"-config", "example", "-pprof"},
		code:   2,
		stderr: "httproute serve: -pprof needs -admin\n",
	}, {
		name:   "path without -config",
		args:   []string{"example"},
		code:   2,
		stderr: `httproute serve: unexpected argument "example": configuration paths follow -config` + "\n",
	}, {
		name:       "configuration that does not load",
		args:       []string{"-config", "testdata/check/bad/redirect.yaml", "-log-format", "json"},
		code:       1,
		lastRecord: true,
		stderr:     `{"error":"the configuration does not load, nothing to serve: testdata/check/bad/redirect.yaml:7:5: httproute default/redirect: spec.rules[0]: Invalid value: RequestRedirect filter must not be used together with backendRefs","level":"ERROR","msg":"httproute serve"}`,
	}, {
		name:       "a listener port taken",
		args:       []string{"-config", "example", "-bind", "80=" + taken.Addr().String(), "-log-format", "json"},
		code:       1,
		lastRecord: true,
		stderr:     `{"error":"listener port 80: listen tcp ` + taken.Addr().String() + `: bind: address already in use","level":"ERROR","msg":"httproute serve"}`,
	}, {
		name:       "a cluster without its configuration",
		args:       []string{"-gateway-class", "httproute", "-kubeconfig", "testdata/missing-kubeconfig", "-log-format", "json"},
		code:       1,
		lastRecord: true,
		stderr:     `{"error":"kube: kubeconfig testdata/missing-kubeconfig: stat testdata/missing-kubeconfig: no such file or directory","level":"ERROR","msg":"httproute serve"}`,
	}})
}

// TestDeploymentArgs parses the arguments of kube/deploy/deployment.yaml
// as serve does: the manifest and the binary must agree on flag names.
func TestDeploymentArgs(t *testing.T) {
	b, err := os.ReadFile("../../kube/deploy/deployment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var args []string
	for doc := range strings.SplitSeq(string(b), "\n---\n") {
		var d struct {
			Kind string
			Spec struct {
				Template struct {
					Spec struct {
						Containers []struct {
							Name string
							Args []string
						}
					}
				}
			}
		}
		if err := yaml.Unmarshal([]byte(doc), &d); err != nil {
			t.Fatal(err)
		}
		if d.Kind == "Deployment" {
			args = d.Spec.Template.Spec.Containers[0].Args
		}
	}
	if len(args) == 0 || args[0] != "serve" {
		t.Fatalf("the Deployment's args %q do not start with serve", args)
	}
	var stderr strings.Builder
	f, ok := parseServe(args[1:], &stderr)
	if !ok {
		t.Fatalf("serve refuses the Deployment's args %q:\n%s", args, stderr.String())
	}
	type got struct {
		Configs                         int
		GatewayClass, HealthAddr, Admin string
		GatewayAddresses                []string
	}
	want := got{GatewayClass: "httproute", HealthAddr: ":8081", Admin: ":9901", GatewayAddresses: []string{"203.0.113.10"}}
	if diff := cmp.Diff(want, got{len(f.configs), f.gatewayClass, f.healthAddr, f.admin, f.gatewayAddresses}); diff != "" {
		t.Errorf("the Deployment's serve flags (-want +got):\n%s", diff)
	}
}

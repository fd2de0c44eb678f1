package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// binary is the httproute binary the end-to-end tests run, built once by
// TestMain: a test runs the program an operator runs, signals included.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "httproute-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "httproute")
	// The go command of the toolchain running the tests.
	gocmd := filepath.Join(runtime.GOROOT(), "bin", "go")
	args := []string{"build", "-o", binary}
	if raceBuild {
		args = append(args, "-race")
	}
	if out, err := exec.Command(gocmd, append(args, ".")...).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		_ = os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// gatewayProc is a running httproute serve.
type gatewayProc struct {
	t    *testing.T
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // cmd.Wait's, set before done is closed

	// admin is the admin endpoint's address, listeners the listener
	// ports' by port, as the process logged them.
	admin     string
	mu        sync.Mutex
	listeners map[int]string
	logs      []map[string]any
}

// startGateway runs httproute serve with JSON logs and an admin endpoint
// on a free loopback port, plus args, and waits until it is ready.
func startGateway(t *testing.T, args ...string) *gatewayProc {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"serve", "-log-format", "json", "-admin", "127.0.0.1:0"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	g := &gatewayProc{t: t, cmd: cmd, done: make(chan struct{}), listeners: map[int]string{}}
	adminc := make(chan string, 1)
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var rec map[string]any
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
				rec = map[string]any{"msg": "unparsed: " + sc.Text()}
			}
			g.mu.Lock()
			g.logs = append(g.logs, rec)
			if rec["msg"] == "listening" {
				port, _ := rec["port"].(float64)
				g.listeners[int(port)], _ = rec["address"].(string)
			}
			g.mu.Unlock()
			if rec["msg"] == "admin listening" {
				adminc <- rec["address"].(string)
			}
		}
	}()
	go func() {
		<-scanned // Wait must not close the pipe before every line is read
		g.err = cmd.Wait()
		close(g.done)
	}()
	t.Cleanup(func() {
		select {
		case <-g.done:
		default:
			_ = cmd.Process.Kill()
			<-g.done
		}
		g.mu.Lock()
		for _, rec := range g.logs {
			if msg, _ := rec["msg"].(string); strings.Contains(msg, "DATA RACE") {
				t.Error("the race detector found a data race in httproute serve")
			}
		}
		g.mu.Unlock()
		if t.Failed() {
			g.dumpLogs()
		}
	})
	select {
	case g.admin = <-adminc:
	case <-g.done:
		t.Fatalf("httproute serve exited before serving: %v", g.err)
	case <-time.After(30 * time.Second):
		t.Fatal("httproute serve did not start its admin endpoint in 30s")
	}
	g.waitFor("ready", func() bool {
		code, _ := g.get("/readyz")
		return code == http.StatusOK
	})
	return g
}

// dumpLogs prints the process's log records, for a failed test.
func (g *gatewayProc) dumpLogs() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, rec := range g.logs {
		if rec["msg"] == "request" && rec["response_code"] == float64(200) {
			continue // the load test's: too many to read
		}
		b, _ := json.Marshal(rec)
		g.t.Logf("gateway log: %s", b)
	}
}

// listener returns the address listener port port is served on.
func (g *gatewayProc) listener(port int) string {
	g.t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	addr := g.listeners[port]
	if addr == "" {
		g.t.Fatalf("listener port %d is not served (listeners %v)", port, g.listeners)
	}
	return addr
}

// get sends GET path to the admin endpoint.
func (g *gatewayProc) get(path string) (int, string) {
	resp, err := http.Get("http://" + g.admin + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// status returns /status.
func (g *gatewayProc) status() statusDoc {
	g.t.Helper()
	code, body := g.get("/status")
	if code != http.StatusOK {
		g.t.Fatalf("/status: %d %s", code, body)
	}
	var doc statusDoc
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		g.t.Fatalf("/status: %v\n%s", err, body)
	}
	return doc
}

// waitFor polls cond until it holds, failing the test after 30 s.
func (g *gatewayProc) waitFor(what string, cond func() bool) {
	g.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		select {
		case <-g.done:
			g.t.Fatalf("waiting for %s: httproute serve exited: %v", what, g.err)
		default:
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("waiting for %s: not after 30s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// signal sends sig to the process.
func (g *gatewayProc) signal(sig os.Signal) {
	g.t.Helper()
	if err := g.cmd.Process.Signal(sig); err != nil {
		g.t.Fatal(err)
	}
}

// wait waits for the process to exit and returns its exit code.
func (g *gatewayProc) wait(timeout time.Duration) int {
	g.t.Helper()
	select {
	case <-g.done:
	case <-time.After(timeout):
		g.t.Fatalf("httproute serve did not exit in %v", timeout)
	}
	if g.cmd.ProcessState == nil {
		g.t.Fatalf("no exit status: %v", g.err)
	}
	return g.cmd.ProcessState.ExitCode()
}

// upstream is a backend on loopback: /slow?d=DURATION answers after that
// long (telling started first), anything else at once; every answer says
// "upstream".
type upstream struct {
	addr    string
	started chan string
}

func newUpstream(t *testing.T) *upstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &upstream{addr: ln.Addr().String(), started: make(chan string, 16)}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			d, err := time.ParseDuration(r.URL.Query().Get("d"))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			u.started <- r.URL.String()
			time.Sleep(d)
		}
		_, _ = io.WriteString(w, "upstream\n")
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return u
}

// port is the upstream's port.
func (u *upstream) port() string {
	_, p, _ := net.SplitHostPort(u.addr)
	return p
}

// configDir writes a configuration for httproute serve: a Gateway with
// an HTTP listener on port 80, the Service app whose EndpointSlice lists
// the upstream, and routes.yaml (see routesYAML) at version 1.
func configDir(t *testing.T, u *upstream) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "gateway.yaml"), `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  gatewayClassName: httproute
  listeners:
  - {name: http, protocol: HTTP, port: 80}
`)
	writeFile(t, filepath.Join(dir, "app.yaml"), `apiVersion: v1
kind: Service
metadata: {name: app}
spec:
  ports: [{name: http, port: 8080}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: app-1
  labels: {kubernetes.io/service-name: app}
addressType: IPv4
ports: [{name: http, port: `+u.port()+`}]
endpoints: [{addresses: [127.0.0.1], conditions: {ready: true}}]
`)
	writeFile(t, filepath.Join(dir, "routes.yaml"), routesYAML(1))
	return dir
}

// routesYAML has two HTTPRoutes: base (every path) and edit (/edit, whose
// answers carry X-Version: version).
func routesYAML(version int) string {
	return fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: base}
spec:
  parentRefs: [{name: gw}]
  rules:
  - backendRefs: [{name: app, port: 8080}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: edit}
spec:
  parentRefs: [{name: gw}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /edit}}]
    filters:
    - type: ResponseHeaderModifier
      responseHeaderModifier:
        set: [{name: X-Version, value: "%d"}]
    backendRefs: [{name: app, port: 8080}]
`, version)
}

// helloYAML is an HTTPRoute hello attached to the Gateway parent (to no
// parentRef when parent is "") and answered by a DirectResponse with body
// and a line break.
func helloYAML(parent, body string) string {
	parentRefs := ""
	if parent != "" {
		parentRefs = "\n  parentRefs: [{name: " + parent + "}]"
	}
	return fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: hello}
spec:%s
  rules:
  - filters:
    - type: ExtensionRef
      extensionRef: {group: gateway.kgateway.dev, kind: DirectResponse, name: hello}
---
apiVersion: gateway.kgateway.dev/v1alpha1
kind: DirectResponse
metadata: {name: hello}
spec: {status: 200, body: %q}
`, parentRefs, body+"\n")
}

func writeFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// replaceFile replaces name with content the way editors and deployment
// tools do: a temporary file renamed over it.
func replaceFile(t *testing.T, name, content string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(name), "."+filepath.Base(name)+".tmp")
	writeFile(t, tmp, content)
	if err := os.Rename(tmp, name); err != nil {
		t.Fatal(err)
	}
}

// version sends GET /edit and returns the X-Version of a 200 answer, ""
// otherwise.
func version(c *http.Client, addr string) string {
	resp, err := c.Get("http://" + addr + "/edit")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return ""
	}
	return resp.Header.Get("X-Version")
}

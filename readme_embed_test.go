package httproute_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// readmeGoBlock returns the first ```go block after the README heading.
func readmeGoBlock(t *testing.T, heading string) string {
	t.Helper()
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n"+heading+"\n")
	if !ok {
		t.Fatalf("README.md has no heading %q", heading)
	}
	_, block, ok := strings.Cut(section, "```go\n")
	code, _, closed := strings.Cut(block, "\n```\n")
	if !ok || !closed {
		t.Fatalf("README.md: no ```go block under %q", heading)
	}
	return code + "\n"
}

// TestReadmeEmbedSnippet builds the README's "Embed it" program exactly as
// written (an overlay puts it at testdata/readme/main.go, inside this
// module) and runs it from testdata/readme, whose routes/ directory it
// loads: requests to it on loopback reach the in-process handler and the
// proxied endpoint through router.Port(80). Run from a directory whose
// routes/ has a mistake, it exits saying where the mistake is.
func TestReadmeEmbedSnippet(t *testing.T) {
	code := readmeGoBlock(t, "## Embed it")
	dir := t.TempDir()
	pkgDir, err := filepath.Abs(filepath.Join("testdata", "readme"))
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "main.go")
	overlay, _ := json.Marshal(map[string]map[string]string{"Replace": {filepath.Join(pkgDir, "main.go"): src}})
	if err := os.WriteFile(src, []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "overlay.json"), overlay, 0o644); err != nil {
		t.Fatal(err)
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build the README's snippet: %v", err)
	}
	bin := filepath.Join(dir, "embed")
	build := exec.Command(goCmd, "build", "-overlay", filepath.Join(dir, "overlay.json"), "-o", bin, "./testdata/readme")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("the README's snippet does not build: %v\n%s", err, out)
	}

	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "web saw "+r.URL.Path)
	}))
	t.Cleanup(web.Close)

	t.Run("serves", func(t *testing.T) {
		addr := startProgram(t, bin, pkgDir, "-web", web.Listener.Addr().String())
		for _, tc := range []struct{ path, want string }{
			{"/api/hello", "200 hello\n"},                      // in process
			{"/static/app.css", "200 web saw /static/app.css"}, // proxied
			{"/api/other", "404 404 page not found\n"},         // the ServeMux's own answer
		} {
			res, err := http.Get("http://" + addr + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if got := strings.TrimSuffix(res.Status, " "+http.StatusText(res.StatusCode)) + " " + string(body); got != tc.want {
				t.Errorf("GET %s: %q, want %q", tc.path, got, tc.want)
			}
		}
	})

	t.Run("reports where the routes are wrong", func(t *testing.T) {
		bad := t.TempDir()
		if err := os.Mkdir(filepath.Join(bad, "routes"), 0o755); err != nil {
			t.Fatal(err)
		}
		yaml := "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  name: web\nspec:\n  rules:\n  - backendRefs:\n    - name: web\n      port: 80\n      weight: -1\n"
		if err := os.WriteFile(filepath.Join(bad, "routes", "web.yaml"), []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "-addr", freeLoopbackAddr(t))
		cmd.Dir = bad
		out, err := cmd.CombinedOutput()
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("the program did not fail: %v\n%s", err, out)
		}
		// The position and the object's field path; the wording after them
		// is the manifest package's.
		for _, want := range []string{"routes/web.yaml:10:7: ", "spec.rules[0].backendRefs[0].weight"} {
			if !bytes.Contains(out, []byte(want)) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	})
}

// startProgram runs bin in dir with args and a free loopback -addr, and
// returns the address once it accepts connections. The program is killed
// when the test ends.
func startProgram(t *testing.T, bin, dir string, args ...string) string {
	t.Helper()
	addr := freeLoopbackAddr(t)
	cmd := exec.Command(bin, append([]string{"-addr", addr}, args...)...)
	cmd.Dir = dir
	logFile := filepath.Join(t.TempDir(), "output")
	out, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	output := func() string { b, _ := os.ReadFile(logFile); return string(b) }
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	for deadline := time.Now().Add(30 * time.Second); ; {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("the program exited: %v\n%s", err, output())
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("the program does not listen on %s:\n%s", addr, output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freeLoopbackAddr returns a loopback address that was free a moment ago.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

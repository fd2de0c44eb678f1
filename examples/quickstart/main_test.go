package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// startQuickstart runs the quick start on a free loopback port.
func startQuickstart(t *testing.T, args ...string) (string, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	var out, errOut bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), &out, &errOut, ready) }()
	var addr string
	select {
	case addr = <-ready:
	case code := <-done:
		t.Fatalf("quickstart exited with %d: %s", code, errOut.String())
	}
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("quickstart exited with %d: %s", code, errOut.String())
		}
	})
	return "http://" + addr, out.String()
}

type echoed struct {
	Path      string              `json:"path"`
	Host      string              `json:"host"`
	Namespace string              `json:"namespace"`
	Service   string              `json:"service"`
	Headers   map[string][]string `json:"headers"`
}

func get(t *testing.T, base, host, path string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+path, nil)
	if host != "" {
		req.Host = host
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

func service(t *testing.T, body string) echoed {
	t.Helper()
	var e echoed
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("not an echo: %q", body)
	}
	return e
}

// TestSeedExamples checks that every example of the seed behaves as the
// seed says, served together.
func TestSeedExamples(t *testing.T) {
	base, out := startQuickstart(t)
	for _, want := range []string{
		"rejected 03-httproute-httpbin.yaml",
		"seed/03-httproute-httpbin.yaml:17:7: document 1: did not find expected '-' indicator",
		"renamed HTTPRoute httpbin/httpbin of 08-httproute-httpbin.yaml to httpbin-08",
		"curl -si -H 'Host: httpbin.example.com'",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Accepted=False") || strings.Contains(out, "ResolvedRefs=False") {
		t.Errorf("a seed route is not accepted or resolved:\n%s", out)
	}

	// "routes all requests for the hostname httpbin.example.com to httpbin"
	res, body := get(t, base, "httpbin.example.com", "/anything/goes")
	if e := service(t, body); res.StatusCode != 200 || e.Service != "httpbin" || e.Namespace != "default" || e.Host != "httpbin.example.com" {
		t.Errorf("httpbin.example.com: %d %+v", res.StatusCode, e)
	}
	// "only allows requests with a path prefix of /status/200"
	if res, _ := get(t, base, "", "/status/200"); res.StatusCode != 200 {
		t.Errorf("/status/200: %d", res.StatusCode)
	}
	// bookinfo: exact and prefix paths to productpage.
	for _, p := range []string{"/productpage", "/static/css/a.css", "/login", "/logout", "/api/v1/products/1"} {
		res, body := get(t, base, "bookinfo.example.com", p)
		if res.StatusCode != 200 || service(t, body).Service != "productpage" {
			t.Errorf("bookinfo %s: %d %q", p, res.StatusCode, body)
		}
	}
	// "the gateway will not forward ... send back the DirectResponse's body and status"
	res, body = get(t, base, "", "/direct-response")
	if res.StatusCode != 404 || body != "User-agent: *\nDisallow: /direct-response\n" {
		t.Errorf("/direct-response: %d %q", res.StatusCode, body)
	}
	// 10/10/80 split of traffic.split.example.
	counts := map[string]int{}
	for i := 0; i < 400; i++ {
		_, body := get(t, base, "traffic.split.example", "/")
		counts[service(t, body).Service]++
	}
	if counts["helloworld-v3"] < 280 || counts["helloworld-v1"] < 15 || counts["helloworld-v2"] < 15 {
		t.Errorf("traffic split counts %v, want about 40/40/320", counts)
	}
	// The seed's lambda route without an emulator says why it cannot serve.
	res, body = get(t, base, "", "/echo")
	if res.StatusCode != 503 || !strings.Contains(body, "Lambda emulator") {
		t.Errorf("/echo without emulator: %d %q", res.StatusCode, body)
	}
}

// TestSeedRedirectAlone serves the redirect example on its own: HTTP is
// redirected to HTTPS with a 301.
func TestSeedRedirectAlone(t *testing.T) {
	base, _ := startQuickstart(t, "-only", "05")
	res, _ := get(t, base, "httpbin.example.com", "/status/200?x=1")
	if res.StatusCode != 301 || res.Header.Get("Location") != "https://httpbin.example.com/status/200?x=1" {
		t.Errorf("redirect: %d Location %q", res.StatusCode, res.Header.Get("Location"))
	}
}

// TestSeedSplitAlone serves the 1:1 A/B split of the infra-gateway example.
func TestSeedSplitAlone(t *testing.T) {
	base, _ := startQuickstart(t, "-only", "09")
	counts := map[string]int{}
	for i := 0; i < 200; i++ {
		res, _ := get(t, base, "", "/status/200")
		counts[strings.TrimPrefix(res.Header.Get("X-Demo-Backend"), "httpbin/")]++
	}
	if counts["httpbin-v1"] < 70 || counts["httpbin-v2"] < 70 {
		t.Errorf("1:1 split counts %v", counts)
	}
}

// TestEmbeddedSeedIsVerbatim keeps the quick start's copies of the seed
// identical to the loader's testdata, which the loader tests check against
// the seed document.
func TestEmbeddedSeedIsVerbatim(t *testing.T) {
	ref, err := filepath.Glob("../../manifest/testdata/seed/*.yaml")
	if err != nil || len(ref) == 0 {
		t.Fatalf("no reference seed files: %v", err)
	}
	for _, f := range ref {
		want, _ := os.ReadFile(f)
		got, err := manifests.ReadFile("manifests/seed/" + filepath.Base(f))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("manifests/seed/%s differs from %s (%v)", filepath.Base(f), f, err)
		}
	}
}

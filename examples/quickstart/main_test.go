package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// lockedBuffer is the quick start's output, written by run and read by
// the test.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startQuickstart runs the quick start on free loopback ports and returns
// the tour it printed and its output.
func startQuickstart(t *testing.T, args ...string) ([]stop, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan []stop, 1)
	var out, errOut lockedBuffer
	done := make(chan int, 1)
	args = append([]string{"-addr", "127.0.0.1:0", "-redirect-addr", "127.0.0.1:0"}, args...)
	go func() { done <- run(ctx, args, &out, &errOut, ready) }()
	var stops []stop
	select {
	case stops = <-ready:
	case code := <-done:
		cancel()
		t.Fatalf("quickstart exited with %d: %s", code, errOut.String())
	}
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("quickstart exited with %d: %s", code, errOut.String())
		}
	})
	return stops, out.String()
}

// answer is one response of a stop.
type answer struct {
	status int
	header http.Header
	body   string
}

// send makes the requests of a stop's curl command: once, or repeat times
// in order, sending back the cookies of earlier answers when the command
// uses a cookie jar (which it empties first).
func send(t *testing.T, s stop) []answer {
	t.Helper()
	client := &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       30 * time.Second,
	}
	method := s.method
	if method == "" {
		method = http.MethodGet
		if s.body != "" {
			method = http.MethodPost // curl -d
		}
	}
	cookies := map[string]string{}
	var out []answer
	for range max(1, s.repeat) {
		var body io.Reader
		if s.body != "" {
			body = strings.NewReader(s.body)
		}
		req, err := http.NewRequest(method, s.base+s.path, body)
		if err != nil {
			t.Fatal(err)
		}
		if s.host != "" {
			req.Host = s.host
		}
		for _, h := range s.header {
			req.Header.Add(h[0], h[1])
		}
		for name, value := range cookies {
			req.AddCookie(&http.Cookie{Name: name, Value: value})
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", s.curl(), err)
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			t.Fatalf("%s: %v", s.curl(), err)
		}
		if s.jar {
			for _, c := range res.Cookies() {
				cookies[c.Name] = c.Value
			}
		}
		out = append(out, answer{res.StatusCode, res.Header, string(b)})
	}
	return out
}

// problems lists how the answers differ from the stop's want.
func problems(s stop, answers []answer) []string {
	w := s.want
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	if w.statuses != nil {
		var got []int
		for _, a := range answers {
			got = append(got, a.status)
		}
		if !slices.Equal(got, w.statuses) {
			bad("statuses %v, want %v", got, w.statuses)
		}
	}
	var endpoints []string
	for i, a := range answers {
		if w.status != 0 && a.status != w.status {
			bad("answer %d: status %d, want %d (body %q)", i, a.status, w.status, a.body)
		}
		if got := a.header.Get(headerBackend); w.backend != "" && got != w.backend {
			bad("answer %d: %s %q, want %q", i, headerBackend, got, w.backend)
		}
		if got := a.header.Get(headerBackend); w.backends != nil && !slices.Contains(w.backends, got) {
			bad("answer %d: %s %q, want one of %q", i, headerBackend, got, w.backends)
		}
		if got := a.header.Get(headerRoute); w.route != "" && got != w.route {
			bad("answer %d: %s %q, want %q", i, headerRoute, got, w.route)
		}
		for _, h := range w.header {
			if got := a.header.Get(h[0]); got != h[1] || (h[1] == "" && len(a.header.Values(h[0])) > 0) {
				bad("answer %d: header %s %q, want %q", i, h[0], got, h[1])
			}
		}
		if !strings.Contains(a.body, w.body) {
			bad("answer %d: body %q lacks %q", i, a.body, w.body)
		}
		if e := w.echo; e != nil {
			var seen struct {
				Path    string              `json:"path"`
				Host    string              `json:"host"`
				Headers map[string][]string `json:"headers"`
			}
			if err := json.Unmarshal([]byte(a.body), &seen); err != nil {
				bad("answer %d: not an echo: %q", i, a.body)
				continue
			}
			if e.path != "" && seen.Path != e.path {
				bad("answer %d: the backend saw path %q, want %q", i, seen.Path, e.path)
			}
			if e.host != "" && seen.Host != e.host {
				bad("answer %d: the backend saw Host %q, want %q", i, seen.Host, e.host)
			}
			for _, h := range e.header {
				if got := strings.Join(seen.Headers[h[0]], ","); got != h[1] {
					bad("answer %d: the backend saw %s %q, want %q", i, h[0], got, h[1])
				}
			}
		}
		endpoints = append(endpoints, a.header.Get(headerEndpoint))
	}
	switch w.endpoints {
	case "same":
		if len(slices.Compact(slices.Clone(endpoints))) != 1 || endpoints[0] == "" {
			bad("endpoints %q, want the same one each time", endpoints)
		}
	case "differ":
		for i := 1; i < len(endpoints); i++ {
			if endpoints[i] == endpoints[i-1] || endpoints[i] == "" {
				bad("endpoints %q, want each to differ from the one before", endpoints)
				break
			}
		}
	}
	return out
}

// walk sends every stop of a tour, in order, and checks its answers. A
// stop whose answer arrives later is asked again for a while.
func walk(t *testing.T, stops []stop) {
	t.Helper()
	for _, s := range stops {
		deadline := time.Now().Add(5 * time.Second)
		for {
			p := problems(s, send(t, s))
			if len(p) == 0 {
				break
			}
			if !s.later || time.Now().After(deadline) {
				t.Errorf("%s\n  %s\n  want: %s\n  %s", s.what, s.curl(), s.answer(), strings.Join(p, "\n  "))
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// TestTour runs the quick start as the README says and walks the tour it
// prints: every curl command, as an HTTP request, and every answer.
func TestTour(t *testing.T) {
	stops, out := startQuickstart(t)
	all, err := catalog()
	if err != nil {
		t.Fatal(err)
	}
	// Every example is shown by some stop, and every section of the post.
	shown := map[string]bool{}
	var sections []string
	for _, s := range stops {
		for _, id := range s.needs {
			shown[id] = true
		}
		if !slices.Contains(sections, s.section) {
			sections = append(sections, s.section)
		}
	}
	for _, e := range all {
		if !shown[e.id] {
			t.Errorf("no stop of the tour shows example %s", e.id)
		}
	}
	wantSections := []string{
		"HTTPRoute: hostnames, listeners, path prefixes", "Matches", "Filters",
		"Extend core capabilities with the ExtensionRef filter", "BackendRefs",
		"Splitting traffic between different backends", "Explore kgateway's Backend API", "Resilience",
	}
	if diff := cmp.Diff(wantSections, sections); diff != "" {
		t.Errorf("sections (-want +got):\n%s", diff)
	}
	for _, s := range stops {
		if !strings.Contains(out, "  "+s.curl()+"\n  #   -> "+s.answer()+"\n") {
			t.Errorf("the output lacks the stop %q as printed:\n%s", s.what, out)
		}
	}
	if strings.Contains(out, "Accepted=False") || strings.Contains(out, "ResolvedRefs=False") {
		t.Errorf("a route is not accepted or resolved:\n%s", out)
	}
	walk(t, stops)
}

// TestTourOfEachExample serves each example alone, with -only, and walks
// the tour printed then: only the stops of what is served, each with the
// same answer as when everything is served.
func TestTourOfEachExample(t *testing.T) {
	all, err := catalog()
	if err != nil {
		t.Fatal(err)
	}
	type selection struct {
		only      string
		addresses int
	}
	var cases []selection
	for _, e := range all {
		cases = append(cases, selection{e.id, 1})
	}
	// 01 shadows 05: together, 05 is served on the second address.
	cases = append(cases, selection{"01,05", 2})
	for _, tc := range cases {
		t.Run(tc.only, func(t *testing.T) {
			stops, out := startQuickstart(t, "-only", tc.only)
			selected, err := selectExamples(all, tc.only)
			if err != nil {
				t.Fatal(err)
			}
			served := map[string]bool{}
			for _, e := range selected {
				served[e.id] = true
			}
			for _, s := range stops {
				for _, id := range s.needs {
					if !served[id] {
						t.Errorf("stop %q needs %s, which is not served", s.what, id)
					}
				}
			}
			if strings.Contains(out, "127.0.0.1:0") || strings.Count(out, "Routes on ") != tc.addresses {
				t.Errorf("-only %s: want %d addresses:\n%s", tc.only, tc.addresses, out)
			}
			walk(t, stops)
		})
	}
}

// TestOnlyUnknown checks that -only with an unknown example fails and
// lists the valid ones.
func TestOnlyUnknown(t *testing.T) {
	var out, errOut lockedBuffer
	code := run(context.Background(), []string{"-addr", "127.0.0.1:0", "-only", "05,13,retries"}, &out, &errOut, nil)
	all, err := catalog()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range all {
		ids = append(ids, e.id)
	}
	want := `quickstart: -only: unknown example "13", "retries"; the examples are ` + strings.Join(ids, ", ") + "\n"
	if code != 2 || errOut.String() != want || out.String() != "" {
		t.Errorf("exit %d, stderr %q, stdout %q; want 2 and %q", code, errOut.String(), out.String(), want)
	}
	for _, id := range []string{"01", "12", "cors", "failover", "headers", "mirror", "retry", "rewrite", "session", "timeout"} {
		if !slices.Contains(ids, id) {
			t.Errorf("example %s is missing from the catalog %v", id, ids)
		}
	}
}

// TestNotes checks what the quick start says about the A/B route, the
// renamed routes and the experimental channel.
func TestNotes(t *testing.T) {
	_, out := startQuickstart(t)
	for _, want := range []string{
		"The post's A/B route (03), exactly as published, is not valid YAML (an API server would refuse it too):\n" +
			"  seed/03-httproute-httpbin.yaml:17:7: document 1: did not find expected '-' indicator\n",
		"With its indentation fixed (manifests/ab/03-indentation-fixed.yaml), an API server still refuses it: value: 2 is a number, and query parameter values are strings:\n" +
			`  ab/03-indentation-fixed.yaml:24:9: httproute default/httpbin: spec.rules[1].matches[0].queryParams[0].value: Invalid value: "integer": spec.rules[1].matches[0].queryParams[0].value in body must be of type string: "integer"` + "\n",
		`Served instead: manifests/ab/03-corrected.yaml, the A/B route with its indentation fixed and value: "2" quoted.` + "\n",
		"Renamed HTTPRoute default/httpbin of ab/03-corrected.yaml to httpbin-03: seed/01-httproute-httpbin.yaml uses the name too",
		"Renamed HTTPRoute httpbin/httpbin of seed/08-httproute-httpbin.yaml to httpbin-08",
		"Loaded tour/session.yaml with the experimental channel: sessionPersistence is still experimental in Gateway API v1.7",
		"Routes on http://127.0.0.1:", "(shadowed on the first address by an older route):\n  default/httpbin-redirect-to-https ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestSplitShares checks the weights of the two splits over more requests
// than the tour's loops send.
func TestSplitShares(t *testing.T) {
	stops, _ := startQuickstart(t, "-only", "09,10")
	for _, tc := range []struct {
		host string
		min  map[string]int // of 400
	}{
		{"infra.example", map[string]int{"httpbin/httpbin-v1": 150, "httpbin/httpbin-v2": 150}},
		{"traffic.split.example", map[string]int{"helloworld/helloworld-v1": 15, "helloworld/helloworld-v2": 15, "helloworld/helloworld-v3": 280}},
	} {
		i := slices.IndexFunc(stops, func(s stop) bool { return s.host == tc.host })
		if i < 0 {
			t.Fatalf("no stop for %s", tc.host)
		}
		s := stops[i]
		s.repeat = 400
		counts := map[string]int{}
		for _, a := range send(t, s) {
			counts[a.header.Get(headerBackend)]++
		}
		for b, n := range tc.min {
			if counts[b] < n {
				t.Errorf("%s: counts %v, want at least %d from %s", tc.host, counts, n, b)
			}
		}
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

// TestABFixes checks that the A/B route's copies change only what they
// say: the indentation, then the quotes around 2.
func TestABFixes(t *testing.T) {
	read := func(name string) string {
		b, err := manifests.ReadFile("manifests/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	seed, fixed, corrected := read("seed/03-httproute-httpbin.yaml"), read("ab/03-indentation-fixed.yaml"), read("ab/03-corrected.yaml")
	if diff := cmp.Diff(strings.Fields(seed), strings.Fields(fixed)); diff != "" {
		t.Errorf("the indentation-fixed copy changes more than whitespace (-seed +fixed):\n%s", diff)
	}
	if want := strings.Replace(fixed, "value: 2\n", "value: \"2\"\n", 1); corrected != want {
		t.Errorf("the corrected copy differs from the indentation-fixed one by more than quoting 2:\n%s", cmp.Diff(want, corrected))
	}
}

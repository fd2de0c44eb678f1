package manifest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
)

// BenchmarkDecodeEmptyDocuments decodes 2 MiB of "---" lines: 512 Ki
// empty documents, which must cost next to nothing.
func BenchmarkDecodeEmptyDocuments(b *testing.B) {
	data := bytes.Repeat([]byte("---\n"), 512<<10)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(Options{NoValidation: true}, "empty.yaml", bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeRoutes decodes n HTTPRoutes of a few rules each, as a
// real configuration has them: read only (NoValidation), and read and
// validated again with a Validator that has seen them (a reload of an
// unchanged configuration; validating a new route costs about a
// millisecond, see validation's BenchmarkValidateRoute).
func BenchmarkDecodeRoutes(b *testing.B) {
	for _, n := range []int{10, 1000} {
		var sb strings.Builder
		for i := range n {
			fmt.Fprintf(&sb, `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: route-%d
  namespace: apps
spec:
  parentRefs: [{name: gw}]
  hostnames: ["r%d.example.com"]
  rules:
  - matches:
    - path: {type: PathPrefix, value: /api}
      headers: [{name: x-version, value: "2"}]
    backendRefs: [{name: api-v2, port: 8080}]
  - matches:
    - path: {type: PathPrefix, value: /api}
    backendRefs: [{name: api, port: 8080, weight: 90}, {name: api-canary, port: 8080, weight: 10}]
  - backendRefs: [{name: web, port: 80}]
`, i, i)
		}
		data := []byte(sb.String())
		for _, mode := range []struct {
			name string
			opts Options
		}{{"read", Options{NoValidation: true}}, {"revalidated", Options{Validator: standard}}} {
			b.Run(fmt.Sprintf("routes=%d/%s", n, mode.name), func(b *testing.B) {
				if _, err := Decode(mode.opts, "routes.yaml", bytes.NewReader(data)); err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(len(data)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := Decode(mode.opts, "routes.yaml", bytes.NewReader(data)); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkWatchReload measures a Watcher's reload latency: from the
// write of a file of 100 HTTPRoutes (one of them renamed each time) to
// Apply receiving the new configuration, with the default debounce of
// 100 ms, validation included (of the changed route).
func BenchmarkWatchReload(b *testing.B) {
	dir := b.TempDir()
	file := dir + "/routes.yaml"
	names := make([]string, 100)
	for i := range names {
		names[i] = fmt.Sprintf("r%d", i)
	}
	write := func(gen int) {
		names[0] = fmt.Sprintf("r0-%d", gen)
		if err := os.WriteFile(file, []byte(routesDoc(names...)), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	write(0)
	applied := make(chan string, 16)
	w, err := NewWatcher(WatchConfig{
		Paths:   []string{dir},
		Options: Options{Validator: standard},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Apply: func(m *Manifests) error {
			applied <- m.Config.HTTPRoutes[0].Name
			return nil
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- w.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	<-applied
	gen := 0
	for b.Loop() {
		gen++
		write(gen)
		for want := fmt.Sprintf("r0-%d", gen); <-applied != want; {
		}
	}
}

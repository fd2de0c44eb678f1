package manifest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// routeDoc is an HTTPRoute document named name.
func routeDoc(name string) string {
	return fmt.Sprintf("apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: %s}\nspec:\n  rules:\n  - backendRefs: [{name: web, port: 80}]\n", name)
}

// routesDoc is a file of HTTPRoutes.
func routesDoc(names ...string) string {
	docs := make([]string, len(names))
	for i, n := range names {
		docs[i] = routeDoc(n)
	}
	return strings.Join(docs, "---\n")
}

// watched is a Watcher running on a temporary directory, with what it
// applied and the outcome of each reload.
type watched struct {
	t       *testing.T
	dir     string
	w       *Watcher
	reloads chan error

	mu      sync.Mutex
	applied [][]string // the route names of each configuration applied
}

// startWatcher writes files into a new directory and runs a Watcher of
// the paths (relative to it) until the test ends. It returns once the
// first configuration is applied.
func startWatcher(t *testing.T, cfg WatchConfig, files map[string]string, paths ...string) *watched {
	t.Helper()
	wd := &watched{t: t, dir: t.TempDir(), reloads: make(chan error, 100)}
	for name, content := range files {
		wd.write(name, content)
	}
	for _, p := range paths {
		cfg.Paths = append(cfg.Paths, filepath.Join(wd.dir, p))
	}
	cfg.Options.Validator = standard
	cfg.Debounce = 20 * time.Millisecond
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.Apply = func(m *Manifests) error {
		var names []string
		for _, r := range m.Config.HTTPRoutes {
			names = append(names, r.Name)
		}
		wd.mu.Lock()
		wd.applied = append(wd.applied, names)
		wd.mu.Unlock()
		return nil
	}
	cfg.Reloaded = func(err error) { wd.reloads <- err }
	w, err := NewWatcher(cfg)
	if err != nil {
		t.Fatal(err)
	}
	wd.w = w
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	if err := wd.next(); err != nil {
		t.Fatalf("first load: %v", err)
	}
	return wd
}

// write writes a file of the directory, creating its directory.
func (wd *watched) write(name, content string) {
	wd.t.Helper()
	p := filepath.Join(wd.dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		wd.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		wd.t.Fatal(err)
	}
}

// next waits for the next reload and returns its outcome.
func (wd *watched) next() error {
	wd.t.Helper()
	select {
	case err := <-wd.reloads:
		return err
	case <-time.After(20 * time.Second):
		wd.t.Fatal("no reload within 20 s")
		return nil
	}
}

// until waits for a reload whose outcome satisfies ok, skipping others
// (an editor's write can be seen half done: truncated, then written).
func (wd *watched) until(what string, ok func(error) bool) error {
	wd.t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case err := <-wd.reloads:
			if ok(err) {
				return err
			}
		case <-deadline:
			wd.t.Fatalf("no reload %s within 20 s; status %+v", what, wd.w.Status())
			return nil
		}
	}
}

// current returns the route names of the configuration applied last.
func (wd *watched) current() []string {
	wd.mu.Lock()
	defer wd.mu.Unlock()
	if len(wd.applied) == 0 {
		return nil
	}
	return wd.applied[len(wd.applied)-1]
}

// appliedRoutes waits for a reload that applies the routes want.
func (wd *watched) appliedRoutes(want ...string) {
	wd.t.Helper()
	wd.until(fmt.Sprintf("applying %v", want), func(error) bool { return slices.Equal(wd.current(), want) })
}

// refused waits for a reload that fails with an error containing msg and
// checks that the current configuration is still want.
func (wd *watched) refused(msg string, want ...string) error {
	wd.t.Helper()
	err := wd.until("failing with "+msg, func(err error) bool { return err != nil && strings.Contains(err.Error(), msg) })
	if diff := cmp.Diff(want, wd.current()); diff != "" {
		wd.t.Errorf("current routes (-want +got):\n%s", diff)
	}
	if st := wd.w.Status(); st.Err == nil || st.Err.Error() != err.Error() {
		wd.t.Errorf("Status().Err = %v, want the reload's error", st.Err)
	}
	if got := wd.w.Current().Config.HTTPRoutes; len(got) != len(want) {
		wd.t.Errorf("Current() has %d routes, want %d", len(got), len(want))
	}
	return err
}

func TestWatchEdit(t *testing.T) {
	wd := startWatcher(t, WatchConfig{}, map[string]string{"routes.yaml": routesDoc("a")}, ".")
	wd.write("routes.yaml", routesDoc("a", "b"))
	wd.appliedRoutes("a", "b")
	// A file in a new directory.
	wd.write("sub/more.yaml", routesDoc("c"))
	wd.appliedRoutes("a", "b", "c")
	wd.write("sub/more.yaml", routesDoc("c", "d"))
	wd.appliedRoutes("a", "b", "c", "d")
	if st := wd.w.Status(); st.Err != nil || st.Applies < 4 {
		t.Errorf("status %+v", st)
	}
}

func TestWatchBrokenFileKeepsTheConfiguration(t *testing.T) {
	wd := startWatcher(t, WatchConfig{}, map[string]string{"routes.yaml": routesDoc("a", "b")}, ".")
	wd.write("routes.yaml", routesDoc("a", "b")+"  - {name: [\n")
	wd.refused("did not find expected node content", "a", "b")
	// Valid YAML that the CRD refuses.
	wd.write("routes.yaml", strings.ReplaceAll(routesDoc("a", "b"), "port: 80", "port: 0"))
	wd.refused("should be greater than or equal to 1", "a", "b")
	// Fixed: applied, and the status clear again.
	wd.write("routes.yaml", routesDoc("a", "b", "c"))
	wd.appliedRoutes("a", "b", "c")
	if st := wd.w.Status(); st.Err != nil {
		t.Errorf("Status().Err = %v after a good reload", st.Err)
	}
}

func TestWatchTruncatedOrEmptiedFile(t *testing.T) {
	wd := startWatcher(t, WatchConfig{}, map[string]string{"routes.yaml": routesDoc("a", "b", "c")}, "routes.yaml")
	if err := os.Truncate(filepath.Join(wd.dir, "routes.yaml"), 0); err != nil {
		t.Fatal(err)
	}
	err := wd.refused("it has no objects", "a", "b", "c")
	if !errors.Is(err, ErrRefused) {
		t.Errorf("%v does not wrap ErrRefused", err)
	}
	wd.write("routes.yaml", "# nothing here\n---\n")
	wd.refused("it has no objects", "a", "b", "c")
	// Cut after the first document: one route of three.
	wd.write("routes.yaml", routeDoc("a"))
	wd.refused("it removes 2 of the 3 HTTPRoutes (67%, more than WatchConfig.MaxDrop 50%): default/b, default/c", "a", "b", "c")
	// Cut in the middle of a document.
	full := routesDoc("a", "b", "c")
	wd.write("routes.yaml", full[:len(full)-20])
	wd.refused("document 3", "a", "b", "c")
	wd.write("routes.yaml", full)
	wd.until("unchanged", func(err error) bool { return err == nil })
}

func TestWatchGuardsTheHostCanLift(t *testing.T) {
	wd := startWatcher(t, WatchConfig{AllowEmpty: true, MaxDrop: 1}, map[string]string{"routes.yaml": routesDoc("a", "b", "c")}, ".")
	wd.write("routes.yaml", routeDoc("a"))
	wd.appliedRoutes("a")
	wd.write("routes.yaml", "")
	wd.appliedRoutes()
}

func TestWatchDropGuard(t *testing.T) {
	wd := startWatcher(t, WatchConfig{MaxDrop: 0.25}, map[string]string{"routes.yaml": routesDoc("a", "b", "c", "d")}, ".")
	// One of four is 25%: accepted.
	wd.write("routes.yaml", routesDoc("a", "b", "c"))
	wd.appliedRoutes("a", "b", "c")
	// One of three is more.
	wd.write("routes.yaml", routesDoc("a", "b", "x"))
	wd.refused("it removes 1 of the 3 HTTPRoutes (33%, more than WatchConfig.MaxDrop 25%): default/c", "a", "b", "c")
}

func TestWatchAtomicReplace(t *testing.T) {
	wd := startWatcher(t, WatchConfig{}, map[string]string{"routes.yaml": routesDoc("a")}, "routes.yaml")
	// As editors and kubectl-like tools write: a temporary file renamed
	// over the old one, whose inode the watch of a file would lose.
	for i, names := range [][]string{{"a", "b"}, {"a", "b", "c"}, {"a", "b", "c", "d"}} {
		tmp := filepath.Join(wd.dir, fmt.Sprintf(".routes.yaml.%d.tmp", i))
		if err := os.WriteFile(tmp, []byte(routesDoc(names...)), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(wd.dir, "routes.yaml")); err != nil {
			t.Fatal(err)
		}
		wd.appliedRoutes(names...)
	}
}

// TestWatchConfigMapUpdate updates files the way the kubelet updates a
// ConfigMap volume: the files are links through "..data", a link to a
// hidden directory that is swapped for a new one.
func TestWatchConfigMapUpdate(t *testing.T) {
	// Empty at first: the links are made once it runs.
	wd := startWatcher(t, WatchConfig{AllowEmpty: true}, map[string]string{"..v1/routes.yaml": routesDoc("a")}, ".")
	link := func(target, name string) {
		t.Helper()
		if err := os.Symlink(target, filepath.Join(wd.dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	link("..v1", "..data")
	link("..data/routes.yaml", "routes.yaml")
	wd.appliedRoutes("a")

	wd.write("..v2/routes.yaml", routesDoc("a", "b"))
	link("..v2", "..data_tmp")
	if err := os.Rename(filepath.Join(wd.dir, "..data_tmp"), filepath.Join(wd.dir, "..data")); err != nil {
		t.Fatal(err)
	}
	wd.appliedRoutes("a", "b")
}

// TestWatchReloadUnchanged checks that a reload of unchanged files applies
// nothing, and that Apply's error keeps the configuration from being
// current.
func TestWatchReloadUnchanged(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "r.yaml"), []byte(routesDoc("a")), 0o644); err != nil {
		t.Fatal(err)
	}
	var applied int
	fail := errors.New("router says no")
	var answer error
	w, err := NewWatcher(WatchConfig{
		Paths:   []string{dir},
		Options: Options{Validator: standard},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Apply:   func(*Manifests) error { applied++; return answer },
	})
	if err != nil {
		t.Fatal(err)
	}
	answer = fail
	if err := w.Reload(); !errors.Is(err, fail) || w.Current() != nil {
		t.Fatalf("Reload = %v, current %v: want Apply's error and no current configuration", err, w.Current())
	}
	answer = nil
	for range 3 {
		if err := w.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	if st := w.Status(); applied != 2 || st.Applies != 1 || st.Reloads != 4 || st.Err != nil {
		t.Errorf("Apply called %d times, status %+v: want 2 calls, 1 applied of 4 reloads", applied, st)
	}
}

func TestNewWatcherErrors(t *testing.T) {
	apply := func(*Manifests) error { return nil }
	tests := []struct {
		name string
		cfg  WatchConfig
		want string
	}{
		{"no paths", WatchConfig{Apply: apply}, "manifest: WatchConfig.Paths is empty"},
		{"no Apply", WatchConfig{Paths: []string{"."}}, "manifest: WatchConfig.Apply is nil"},
		{"MaxDrop", WatchConfig{Paths: []string{"."}, Apply: apply, MaxDrop: 1.5}, "manifest: WatchConfig.MaxDrop 1.5 is not between 0 and 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewWatcher(tt.cfg); err == nil || err.Error() != tt.want {
				t.Errorf("err = %v, want %s", err, tt.want)
			}
		})
	}
}

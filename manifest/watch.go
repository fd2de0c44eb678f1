package manifest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"k8s.io/apimachinery/pkg/types"

	"github.com/httproute/httproute/validation"
)

// WatchConfig configures a Watcher.
type WatchConfig struct {
	// Paths are the files and directories to load, as Load takes them.
	Paths []string
	// Options are the loader's options. When they have no Validator and
	// validate, the Watcher makes one for Options.Channel and keeps it,
	// so that unchanged objects are not validated again on a reload.
	Options Options
	// Apply receives each configuration that loaded without a problem and
	// passed the guards. The host builds its Config from m.Config (its
	// Extensions are Options.Extensions already), adds its hooks and calls
	// Router.Update. An error keeps the configuration from becoming the
	// current one and is the reload's error. Apply is called from one
	// goroutine at a time.
	Apply func(m *Manifests) error
	// Debounce is how long the files must stay unchanged before a reload,
	// so that the several writes of an editor or a deployment tool make
	// one reload; zero means 100 ms. MaxDelay bounds the wait after the
	// first change of a burst that does not stop; zero means 10×Debounce.
	Debounce, MaxDelay time.Duration
	// AllowEmpty accepts a configuration that loads no object at all. By
	// default it is refused: an emptied or truncated file would otherwise
	// empty the routing table.
	AllowEmpty bool
	// MaxDrop is the largest share of the current HTTPRoutes (by
	// namespace and name) that a new configuration may remove, from 0 to
	// 1; one that removes more is refused. Zero means 0.5; 1 accepts any.
	MaxDrop float64
	// Logger logs each reload that applies or fails; nil logs to
	// slog.Default().
	Logger *slog.Logger
	// Reloaded, when set, is called after each reload with its outcome:
	// nil when the configuration applied or had not changed. For
	// metrics; it must not block.
	Reloaded func(error)
}

// ErrRefused is wrapped by the error of a reload that a guard of
// WatchConfig refused.
var ErrRefused = errors.New("manifest: configuration refused")

// A Watcher reloads a configuration when its files change: it loads them,
// validates them and hands the new Manifests to WatchConfig.Apply. A
// configuration with a problem, or that a guard refuses, is not applied:
// the current one stays, and the problem is logged, returned by Reload and
// kept in Status until a later reload succeeds.
//
// Files are watched through their directories (with fsnotify), so that an
// editor's or a deployment tool's atomic replace (write a temporary file,
// rename it over the old one) and a Kubernetes ConfigMap volume's update
// (a symbolic link swapped) are seen. Directories created later inside a
// watched one are watched too. A Watcher is safe for concurrent use.
type Watcher struct {
	cfg    WatchConfig
	logger *slog.Logger

	// reload serializes reloads: Run's and those the host asks for.
	reload sync.Mutex

	// mu guards what Status and Current report, so that they answer
	// while a reload runs.
	mu     sync.Mutex
	status WatchStatus
	// current is the configuration applied last, nil before the first;
	// written with reload held too.
	current *Manifests
}

// WatchStatus is what a Watcher has done, for a status endpoint.
type WatchStatus struct {
	// Applied is when the current configuration was applied, zero before
	// the first; Applies counts the configurations applied.
	Applied time.Time
	Applies int
	// Reloads counts the reloads, applied, unchanged or failed.
	Reloads int
	// Err is the problem of the last reload, nil when it applied or the
	// configuration had not changed; Failed is when it happened.
	Err    error
	Failed time.Time
}

// NewWatcher returns a Watcher of cfg.Paths. It neither loads nor watches
// them yet: Reload loads them now, Run watches them.
func NewWatcher(cfg WatchConfig) (*Watcher, error) {
	if len(cfg.Paths) == 0 {
		return nil, errors.New("manifest: WatchConfig.Paths is empty")
	}
	if cfg.Apply == nil {
		return nil, errors.New("manifest: WatchConfig.Apply is nil")
	}
	if cfg.MaxDrop < 0 || cfg.MaxDrop > 1 {
		return nil, fmt.Errorf("manifest: WatchConfig.MaxDrop %v is not between 0 and 1", cfg.MaxDrop)
	}
	if cfg.Debounce <= 0 {
		cfg.Debounce = 100 * time.Millisecond
	}
	if cfg.MaxDelay <= 0 {
		cfg.MaxDelay = 10 * cfg.Debounce
	}
	if cfg.MaxDrop == 0 {
		cfg.MaxDrop = 0.5
	}
	if cfg.Options.Validator == nil && !cfg.Options.NoValidation {
		cfg.Options.Validator = validation.New(cfg.Options.Channel)
	}
	cfg.Paths = slices.Clone(cfg.Paths)
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	return &Watcher{cfg: cfg, logger: logger}, nil
}

// Status reports what the Watcher has done.
func (w *Watcher) Status() WatchStatus {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.status
}

// Current returns the configuration applied last, nil before the first.
// The host must not change it.
func (w *Watcher) Current() *Manifests {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.current
}

// Reload loads the configuration now and applies it unless it has a
// problem, a guard refuses it, or it is unchanged (the same files with the
// same content as the current one). It returns the problem, which Status
// keeps too.
func (w *Watcher) Reload() error {
	w.reload.Lock()
	defer w.reload.Unlock()
	next, err := Load(w.cfg.Options, w.cfg.Paths...)
	current := w.Current()
	applied := false
	switch {
	case err != nil:
	case current != nil && next.digest == current.digest:
		// Unchanged: an editor's swap file, a touch, a reload signal.
	default:
		if err = w.guard(current, next); err == nil {
			err = w.cfg.Apply(next)
			applied = err == nil
		}
	}

	now := time.Now()
	w.mu.Lock()
	if applied {
		w.current = next
	}
	w.status.Reloads++
	w.status.Err = err
	if err != nil {
		w.status.Failed = now
	}
	if applied {
		w.status.Applied = now
		w.status.Applies++
	}
	w.mu.Unlock()

	switch {
	case err != nil:
		w.logger.Error("configuration not applied; the current one stays", "paths", w.cfg.Paths, "error", err)
	case applied:
		cfg := next.Config
		w.logger.Info("configuration applied", "paths", w.cfg.Paths, "gateways", len(cfg.Gateways), "httproutes", len(cfg.HTTPRoutes), "objects", next.objects)
	}
	if w.cfg.Reloaded != nil {
		w.cfg.Reloaded(err)
	}
	return err
}

// guard refuses a configuration that loads empty or removes too many of
// the current HTTPRoutes.
func (w *Watcher) guard(current, next *Manifests) error {
	if next.objects == 0 && !w.cfg.AllowEmpty {
		return fmt.Errorf("%w: it has no objects (an emptied or truncated file?); set WatchConfig.AllowEmpty to accept that", ErrRefused)
	}
	if current == nil || len(current.Config.HTTPRoutes) == 0 {
		return nil
	}
	kept := map[types.NamespacedName]bool{}
	for _, r := range next.Config.HTTPRoutes {
		kept[types.NamespacedName{Namespace: r.Namespace, Name: r.Name}] = true
	}
	var removed []string
	for _, r := range current.Config.HTTPRoutes {
		if !kept[types.NamespacedName{Namespace: r.Namespace, Name: r.Name}] {
			removed = append(removed, r.Namespace+"/"+r.Name)
		}
	}
	n := len(current.Config.HTTPRoutes)
	if share := float64(len(removed)) / float64(n); share > w.cfg.MaxDrop {
		list := removed
		if len(list) > 5 {
			list = append(slices.Clip(list[:5]), "...")
		}
		return fmt.Errorf("%w: it removes %d of the %d HTTPRoutes (%.0f%%, more than WatchConfig.MaxDrop %.0f%%): %s",
			ErrRefused, len(removed), n, share*100, w.cfg.MaxDrop*100, strings.Join(list, ", "))
	}
	return nil
}

// Run watches the paths until ctx is done, then returns nil; it returns an
// error when it cannot watch them. Once the watches are set it reloads
// (which applies nothing when the configuration is unchanged since the
// last Reload), so that no change between an initial Reload and Run is
// missed; then it reloads after each burst of changes.
func (w *Watcher) Run(ctx context.Context) error {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("manifest: watching: %w", err)
	}
	defer fw.Close()
	if err := w.watch(fw); err != nil {
		return err
	}
	_ = w.Reload()

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var first time.Time // of the burst of changes waiting for a reload
	change := func() {
		now := time.Now()
		if first.IsZero() {
			first = now
		}
		timer.Reset(min(w.cfg.Debounce, w.cfg.MaxDelay-now.Sub(first)))
	}
	for {
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case _, ok := <-fw.Events:
			if !ok {
				return errors.New("manifest: watching stopped")
			}
			change()
		case err, ok := <-fw.Errors:
			if !ok {
				return errors.New("manifest: watching stopped")
			}
			// An overflow loses events: reload to be sure.
			w.logger.Warn("watching the configuration", "error", err)
			change()
		case <-timer.C:
			first = time.Time{}
			// Directories created since are watched from now on; a file
			// written in one before its watch was set is read now.
			if err := w.watch(fw); err != nil {
				w.logger.Warn("watching the configuration", "error", err)
			}
			_ = w.Reload()
		}
	}
}

// watch sets the watches: every directory the paths load from (hidden
// ones excepted), and the directory of each file named.
func (w *Watcher) watch(fw *fsnotify.Watcher) error {
	var errs []error
	watched := map[string]bool{}
	for _, name := range fw.WatchList() {
		watched[name] = true
	}
	add := func(dir string) {
		if watched[dir] {
			return
		}
		if err := fw.Add(dir); err != nil {
			errs = append(errs, fmt.Errorf("manifest: watching %s: %w", dir, err))
			return
		}
		watched[dir] = true
	}
	for _, p := range w.cfg.Paths {
		info, err := os.Stat(p)
		if err != nil {
			// Gone for now: watch where it would come back.
			add(filepath.Dir(p))
			continue
		}
		if !info.IsDir() {
			add(filepath.Dir(p))
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				// Removed while walking: the next reload sees it.
				return nil
			}
			if !d.IsDir() {
				return nil
			}
			if path != p && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			add(path)
			return nil
		})
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

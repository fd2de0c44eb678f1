package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/endpointslice"
	"github.com/httproute/httproute/manifest"
)

// fileSource serves the configuration of files and directories: a
// manifest.Watcher loads them, validates them, guards against emptied and
// shrunken configurations, and applies each good one to the Router.
type fileSource struct {
	f       *serveFlags
	watcher *manifest.Watcher
	logger  *slog.Logger
	applied atomic.Bool
	// portsErr is the error of the last apply's ports; only read after
	// a Reload returned, as Apply runs within Reload.
	portsErr error
}

func newFileSource(f *serveFlags, base httproute.Config, rt *httproute.Router, ps *ports, reg prometheus.Registerer, logger *slog.Logger) (*fileSource, error) {
	reloads := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "httproute", Name: "config_reloads_total",
		Help: "Reloads of the configuration files, by result: success (applied, or unchanged), refused (by a guard: empty, or too many HTTPRoutes removed) or error (it did not load or apply).",
	}, []string{"result"})
	failing := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "httproute", Name: "config_reload_failing",
		Help: "1 when the last reload of the configuration files failed: the configuration served is older than the files.",
	})
	if err := errors.Join(reg.Register(reloads), reg.Register(failing)); err != nil {
		return nil, err
	}
	for _, r := range []string{"success", "refused", "error"} {
		reloads.WithLabelValues(r)
	}

	s := &fileSource{f: f, logger: logger}
	services := &endpointslice.Resolver{}
	w, err := manifest.NewWatcher(manifest.WatchConfig{
		Paths:   f.configs,
		Options: f.load.options(logger),
		Apply: func(m *manifest.Manifests) error {
			cfg := routerConfig(m, services)
			cfg.Observer, cfg.Logger = base.Observer, base.Logger
			cfg.Strict, cfg.GatewayClassName = base.Strict, base.GatewayClassName
			if err := rt.Update(cfg); err != nil {
				return err
			}
			s.portsErr = ps.sync(rt, servedPorts(&cfg, f.binds))
			if s.portsErr != nil {
				logger.Error("listener ports not served", "error", s.portsErr)
			}
			s.applied.Store(true)
			return nil
		},
		Debounce:   f.debounce,
		AllowEmpty: f.allowEmpty,
		MaxDrop:    f.maxDrop,
		Logger:     logger,
		Reloaded: func(err error) {
			switch {
			case err == nil:
				reloads.WithLabelValues("success").Inc()
				failing.Set(0)
			case errors.Is(err, manifest.ErrRefused):
				reloads.WithLabelValues("refused").Inc()
				failing.Set(1)
			default:
				reloads.WithLabelValues("error").Inc()
				failing.Set(1)
			}
		},
	})
	if err != nil {
		return nil, err
	}
	s.watcher = w
	return s, nil
}

// start loads and applies the first configuration, and opens its ports.
func (s *fileSource) start() error {
	if err := s.watcher.Reload(); err != nil {
		return fmt.Errorf("the configuration does not load, nothing to serve: %w", err)
	}
	if s.portsErr != nil {
		return s.portsErr
	}
	return nil
}

func (s *fileSource) run(ctx context.Context) error {
	if !s.f.watch {
		<-ctx.Done()
		return nil
	}
	return s.watcher.Run(ctx)
}

func (s *fileSource) reload() {
	s.logger.Info("SIGHUP: reloading the configuration")
	before := s.watcher.Status().Applies
	if err := s.watcher.Reload(); err == nil && s.watcher.Status().Applies == before {
		s.logger.Info("configuration unchanged")
	}
}

func (s *fileSource) ready() bool { return s.applied.Load() }

func (s *fileSource) status(doc *statusDoc) {
	ws := s.watcher.Status()
	c := &configStatus{Paths: s.f.configs, Applies: ws.Applies, Reloads: ws.Reloads}
	if !ws.Applied.IsZero() {
		c.Applied = &ws.Applied
	}
	if ws.Err != nil {
		c.Error = ws.Err.Error()
		c.Failed = &ws.Failed
	}
	doc.Source = "files"
	doc.Config = c
}

package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/endpointslice"
)

// FieldManager is the server-side apply field manager of the status the
// Controller writes.
const FieldManager = "httproute"

// Options configure a Controller.
type Options struct {
	// ControllerName selects the GatewayClasses the Controller serves:
	// those whose spec.controllerName it is. It is also written in route
	// parent statuses. Empty means httproute.DefaultControllerName.
	ControllerName gatewayv1.GatewayController
	// GatewayClassName, when set, restricts the Controller to that one
	// class (which must still name ControllerName): deployments of one
	// controllerName then share a cluster, one class each, and each keeps
	// the route parent entries of the others' Gateways. Empty serves every
	// class of ControllerName.
	GatewayClassName gatewayv1.ObjectName

	// Base holds the hooks every compiled Config gets: Extensions, Rand,
	// Now, Sleep, Logger, SessionKey and Strict. Its objects, Services,
	// GatewayClassName and ControllerName are ignored: the cluster and
	// the fields above provide them. Extensions whose New is set have
	// their objects watched; their CRDs must be installed.
	Base httproute.Config
	// Resolver resolves Services to Upstreams; set it to configure their
	// balancer, passive health or transport. Nil uses a Resolver with the
	// library's defaults. A Resolver serves one Controller.
	Resolver *endpointslice.Resolver

	// Debounce is how long the Controller waits for further changes
	// before rebuilding the Router; 0 means 100ms. Changes that keep
	// arriving delay a rebuild by at most MaxDelay (0 means 1s).
	Debounce, MaxDelay time.Duration
	// Addresses returns the addresses written into a Gateway's status
	// when the Gateway does not request any. Nil writes none.
	Addresses func(gw types.NamespacedName) []gatewayv1.GatewayStatusAddress
	// OnUpdate is called after each successful Router.Update with the
	// Gateways the Controller serves (a Listeners' Sync, typically). It
	// runs on the Controller's rebuild goroutine.
	OnUpdate func(rt *httproute.Router, gateways []*gatewayv1.Gateway)

	// LeaderElection configures which replica writes status.
	LeaderElection LeaderElection
	// StatusWorkers is how many status writes run at once; 0 means 8.
	StatusWorkers int
	// Logger receives the Controller's own records (rebuilds, status
	// writes, leadership). Nil discards them.
	Logger *slog.Logger
}

// Controller keeps a Router in step with a cluster's Gateway API objects
// and writes their status. It is an http.Handler: the Router, answering
// 503 until Ready.
type Controller struct {
	opts       Options
	controller gatewayv1.GatewayController
	logger     *slog.Logger
	router     *httproute.Router
	resolver   *endpointslice.Resolver

	inf    *informers
	status *statusWriter
	leader *leaderElector

	ready atomic.Bool
	// kick asks for a rebuild; statusKick for a status pass.
	kick, statusKick chan struct{}
	// rebuilds counts successful Router updates.
	rebuilds atomic.Int64

	mu         sync.Mutex
	lastStatus httproute.Status
	served     []*gatewayv1.Gateway
	running    bool
}

var _ http.Handler = (*Controller)(nil)

// New returns a Controller for the cluster cfg points at. It fails when
// Options are incomplete or an extension kind is not served by the
// cluster. Run starts it.
func New(cfg *rest.Config, opts Options) (*Controller, error) {
	if opts.ControllerName == "" {
		opts.ControllerName = httproute.DefaultControllerName
	}
	if opts.Debounce <= 0 {
		opts.Debounce = 100 * time.Millisecond
	}
	if opts.MaxDelay <= 0 {
		opts.MaxDelay = time.Second
	}
	if opts.Resolver == nil {
		opts.Resolver = &endpointslice.Resolver{}
	}
	if opts.StatusWorkers <= 0 {
		opts.StatusWorkers = 8
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	c := &Controller{
		opts:       opts,
		controller: opts.ControllerName,
		logger:     logger,
		router:     &httproute.Router{},
		resolver:   opts.Resolver,
		kick:       make(chan struct{}, 1),
		statusKick: make(chan struct{}, 1),
	}
	inf, err := newInformers(cfg, opts.Base.Extensions, c.changed)
	if err != nil {
		return nil, err
	}
	c.inf = inf
	c.status, err = newStatusWriter(cfg, c)
	if err != nil {
		return nil, err
	}
	c.leader, err = newLeaderElector(cfg, opts.GatewayClassName, opts.LeaderElection, c)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Router returns the Router the Controller updates.
func (c *Controller) Router() *httproute.Router { return c.router }

// Ready reports whether every informer has synced and the Router serves a
// Config built from them.
func (c *Controller) Ready() bool { return c.ready.Load() }

// Leader reports whether this replica holds the Lease and writes status.
func (c *Controller) Leader() bool { return c.leader.isLeader() }

// Gate returns h behind the Controller's readiness: 503 until Ready.
func (c *Controller) Gate(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !c.ready.Load() {
			notReady(w)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// ServeHTTP serves the request with the Router once the Controller is
// Ready, and answers 503 before.
func (c *Controller) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !c.ready.Load() {
		notReady(w)
		return
	}
	c.router.ServeHTTP(w, r)
}

func notReady(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Retry-After", "1")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = io.WriteString(w, "not ready: the cluster's objects are still being read\n")
}

// ReadyHandler answers 200 when the Controller is Ready and 503 before:
// a readiness probe.
func (c *Controller) ReadyHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if !c.ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	})
}

// Run starts the informers, waits until they have synced, builds the
// first Config, then keeps the Router up to date and, while this replica
// leads, status written, until ctx is done. It returns nil then, or an
// error when the caches cannot sync. A Controller runs once.
func (c *Controller) Run(ctx context.Context) error {
	c.mu.Lock()
	if c.running {
		c.mu.Unlock()
		return errors.New("kube: Controller.Run called twice")
	}
	c.running = true
	c.mu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
		c.inf.stop()
	}()

	start := time.Now()
	if err := c.inf.start(ctx); err != nil {
		return err
	}
	c.logger.Info("kube: caches synced", "after", time.Since(start).Round(time.Millisecond))
	c.rebuild()

	wg.Go(func() { c.leader.run(ctx) })
	wg.Go(func() { c.statusLoop(ctx) })
	c.rebuildLoop(ctx)
	return nil
}

// changed is called by the informers for every relevant change.
func (c *Controller) changed() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// rebuildLoop rebuilds the Router after changes, once they have quieted
// down for Debounce or have kept arriving for MaxDelay.
func (c *Controller) rebuildLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.kick:
		}
		deadline := time.NewTimer(c.opts.MaxDelay)
		quiet := time.NewTimer(c.opts.Debounce)
	wait:
		for {
			select {
			case <-ctx.Done():
				deadline.Stop()
				quiet.Stop()
				return
			case <-c.kick:
				quiet.Reset(c.opts.Debounce)
			case <-quiet.C:
				break wait
			case <-deadline.C:
				break wait
			}
		}
		deadline.Stop()
		quiet.Stop()
		c.rebuild()
	}
}

// rebuild compiles a Config from the caches into the Router and, on
// success, tells OnUpdate and the status writer.
func (c *Controller) rebuild() {
	start := time.Now()
	cfg, served := c.buildConfig()
	if err := c.router.Update(cfg); err != nil {
		// Only a Config that cannot be served at all fails (Strict
		// aside); the Router keeps its table.
		c.logger.Error("kube: Router.Update failed; serving the previous configuration", "err", err)
		return
	}
	c.rebuilds.Add(1)
	c.mu.Lock()
	c.lastStatus = c.router.Status()
	c.served = served
	c.mu.Unlock()
	c.ready.Store(true)
	c.logger.Debug("kube: rebuilt", "gateways", len(served), "httproutes", len(cfg.HTTPRoutes), "took", time.Since(start).Round(time.Microsecond))
	if c.opts.OnUpdate != nil {
		c.opts.OnUpdate(c.router, served)
	}
	c.requestStatus()
}

// requestStatus asks for a status pass.
func (c *Controller) requestStatus() {
	select {
	case c.statusKick <- struct{}{}:
	default:
	}
}

// statusLoop writes status after rebuilds while this replica leads.
func (c *Controller) statusLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.statusKick:
		}
		if !c.leader.isLeader() {
			continue
		}
		c.mu.Lock()
		rs := c.lastStatus
		c.mu.Unlock()
		if err := c.status.write(ctx, rs); err != nil && ctx.Err() == nil {
			c.logger.Error("kube: writing status", "err", err)
			// Try again after a pause; a later rebuild may come first.
			go func() {
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
					c.requestStatus()
				}
			}()
		}
	}
}

// String names the Controller in logs.
func (c *Controller) String() string {
	if c.opts.GatewayClassName != "" {
		return fmt.Sprintf("kube.Controller(controller %s, class %s)", c.controller, c.opts.GatewayClassName)
	}
	return fmt.Sprintf("kube.Controller(controller %s)", c.controller)
}

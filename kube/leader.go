package kube

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// LeaderElection configures the Lease that elects the replica writing
// status. Every replica serves whatever it holds.
type LeaderElection struct {
	// Namespace and Name of the Lease. Namespace defaults to the
	// POD_NAMESPACE environment variable, then "default"; Name to
	// "httproute", followed by "-" and Options.GatewayClassName when set.
	Namespace, Name string
	// Identity of this replica in the Lease; it must differ between
	// replicas. Empty means the POD_NAME environment variable or the host
	// name, followed by a random suffix.
	Identity string
	// LeaseDuration is how long a Lease that is not renewed blocks other
	// replicas (15s when 0): the longest a crashed leader leaves status
	// unwritten. RenewDeadline is how long the leader keeps trying to
	// renew before it gives up leading (10s when 0); RetryPeriod is how
	// often replicas try to acquire or renew (2s when 0).
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// KeepOnStop leaves the Lease held when Run returns, instead of
	// releasing it for another replica to take at once. Tests use it to
	// play a replica that crashed.
	KeepOnStop bool
}

// leaderElector runs for the Lease again and again until its context is
// done, and tells the Controller when it leads.
type leaderElector struct {
	cfg    leaderelection.LeaderElectionConfig
	c      *Controller
	leader atomic.Bool
}

func newLeaderElector(restCfg *rest.Config, class gatewayv1.ObjectName, le LeaderElection, c *Controller) (*leaderElector, error) {
	if le.Namespace == "" {
		le.Namespace = os.Getenv("POD_NAMESPACE")
	}
	if le.Namespace == "" {
		le.Namespace = "default"
	}
	if le.Name == "" {
		le.Name = "httproute"
		if class != "" {
			le.Name += "-" + string(class)
		}
	}
	if le.Identity == "" {
		le.Identity = os.Getenv("POD_NAME")
		if le.Identity == "" {
			le.Identity, _ = os.Hostname()
		}
		suffix := make([]byte, 4)
		_, _ = rand.Read(suffix)
		le.Identity += "_" + hex.EncodeToString(suffix)
	}
	if le.LeaseDuration <= 0 {
		le.LeaseDuration = 15 * time.Second
	}
	if le.RenewDeadline <= 0 {
		le.RenewDeadline = 10 * time.Second
	}
	if le.RetryPeriod <= 0 {
		le.RetryPeriod = 2 * time.Second
	}
	cs, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return nil, fmt.Errorf("kube: %w", err)
	}
	lock, err := resourcelock.New(resourcelock.LeasesResourceLock, le.Namespace, le.Name,
		cs.CoreV1(), cs.CoordinationV1(), resourcelock.ResourceLockConfig{Identity: le.Identity})
	if err != nil {
		return nil, fmt.Errorf("kube: %w", err)
	}
	e := &leaderElector{c: c}
	e.cfg = leaderelection.LeaderElectionConfig{
		Lock:            lock,
		Name:            le.Name,
		LeaseDuration:   le.LeaseDuration,
		RenewDeadline:   le.RenewDeadline,
		RetryPeriod:     le.RetryPeriod,
		ReleaseOnCancel: !le.KeepOnStop,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(context.Context) {
				e.leader.Store(true)
				c.logger.Info("kube: leading: this replica writes status", "lease", le.Namespace+"/"+le.Name, "identity", le.Identity)
				c.requestStatus()
			},
			OnStoppedLeading: func() {
				e.leader.Store(false)
				c.logger.Info("kube: not leading", "lease", le.Namespace+"/"+le.Name, "identity", le.Identity)
			},
		},
	}
	// Validate the durations now rather than when Run starts.
	if _, err := leaderelection.NewLeaderElector(e.cfg); err != nil {
		return nil, fmt.Errorf("kube: leader election: %w", err)
	}
	return e, nil
}

func (e *leaderElector) isLeader() bool { return e.leader.Load() }

// run takes part in the election until ctx is done: a replica that loses
// the Lease (it could not renew in time) stands again.
func (e *leaderElector) run(ctx context.Context) {
	for ctx.Err() == nil {
		el, err := leaderelection.NewLeaderElector(e.cfg)
		if err != nil { // the configuration was checked by newLeaderElector
			e.c.logger.Error("kube: leader election", "err", err)
			return
		}
		el.Run(ctx)
	}
}

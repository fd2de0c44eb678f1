package kube

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/httproute/httproute"
)

// RunConfig is what a program (the httproute binary's cluster source)
// gives Run.
type RunConfig struct {
	// Kubeconfig is the path of a kubeconfig file. Empty uses the
	// in-cluster configuration of a Pod's ServiceAccount.
	Kubeconfig string
	// Options configure the Controller; GatewayClassName is required.
	// Run sets OnUpdate (keeping one already set, called first).
	Options Options
	// Host is the local address the Gateways' listener ports are served
	// on; "" for all interfaces.
	Host string
	// HealthAddr serves /healthz (always 200) and /readyz (200 once the
	// Controller is Ready, 503 before); "" serves no health endpoint.
	HealthAddr string
	// GatewayAddresses are written into the status of every Gateway that
	// requests no address: the address clients reach the replicas at (a
	// LoadBalancer Service's, for example). Ignored when
	// Options.Addresses is set.
	GatewayAddresses []gatewayv1.GatewayStatusAddress
	// QPS and Burst limit the client's requests to the API server; 0
	// means 50 and 100.
	QPS   float32
	Burst int
}

// RESTConfig returns the client configuration of a kubeconfig file, or
// the in-cluster one when path is empty.
func RESTConfig(path string) (*rest.Config, error) {
	if path == "" {
		cfg, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("kube: in-cluster configuration (give a kubeconfig outside a cluster): %w", err)
		}
		return cfg, nil
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, fmt.Errorf("kube: kubeconfig %s: %w", path, err)
	}
	return cfg, nil
}

// Run serves a cluster's Gateways of one class until ctx is done: it
// starts a Controller, serves the Gateways' listener ports on rc.Host and
// the health endpoints on rc.HealthAddr, and closes them all on return.
func Run(ctx context.Context, rc RunConfig) error {
	cfg, err := RESTConfig(rc.Kubeconfig)
	if err != nil {
		return err
	}
	cfg.QPS, cfg.Burst = rc.QPS, rc.Burst
	if cfg.QPS == 0 {
		cfg.QPS = 50
	}
	if cfg.Burst == 0 {
		cfg.Burst = 100
	}
	cfg.UserAgent = "httproute"

	var c *Controller
	ls := &Listeners{Host: rc.Host, Logger: rc.Options.Logger}
	opts := rc.Options
	prev := opts.OnUpdate
	opts.OnUpdate = func(rt *httproute.Router, gws []*gatewayv1.Gateway) {
		if prev != nil {
			prev(rt, gws)
		}
		if err := ls.Sync(rt, gws); err != nil && c != nil {
			c.logger.Error("kube: serving listeners", "err", err)
		}
	}
	if opts.Addresses == nil && len(rc.GatewayAddresses) > 0 {
		addrs := slices.Clone(rc.GatewayAddresses)
		opts.Addresses = func(types.NamespacedName) []gatewayv1.GatewayStatusAddress { return slices.Clone(addrs) }
	}
	c, err = New(cfg, opts)
	if err != nil {
		return err
	}
	ls.Wrap = c.Gate
	defer ls.Close()

	if rc.HealthAddr != "" {
		mux := http.NewServeMux()
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
		mux.Handle("/readyz", c.ReadyHandler())
		ln, err := net.Listen("tcp", rc.HealthAddr)
		if err != nil {
			return fmt.Errorf("kube: health endpoint: %w", err)
		}
		hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = hs.Serve(ln) }()
		defer hs.Close()
	}
	if err := c.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

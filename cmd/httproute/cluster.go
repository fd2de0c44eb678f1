package main

import (
	"context"
	"log/slog"
	"slices"

	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/kube"
)

// clusterSource serves a cluster's Gateways: a kube.Controller keeps the
// Router in step with the cluster and writes status while its replica
// holds the Lease.
//
// It is kube.Run's composition with the binary's own listener ports in
// place of kube.Listeners, so that a cluster is served as files are:
// -bind, graceful draining on SIGTERM, metrics and access logs.
type clusterSource struct {
	c      *kube.Controller
	class  string
	logger *slog.Logger
}

func newClusterSource(f *serveFlags, base httproute.Config, ps *ports, logger *slog.Logger) (*clusterSource, *httproute.Router, error) {
	rest, err := kube.RESTConfig(f.kubeconfig)
	if err != nil {
		return nil, nil, err
	}
	rest.QPS, rest.Burst, rest.UserAgent = 50, 100, "httproute"
	base.Extensions = f.load.extensions(logger)
	// The Controller decides which Gateways it serves (kube.Options'
	// GatewayClassName) and builds every Config with them.
	base.GatewayClassName = ""
	opts := kube.Options{
		GatewayClassName: gatewayv1.ObjectName(f.gatewayClass),
		Base:             base,
		Logger:           logger,
		OnUpdate: func(rt *httproute.Router, gws []*gatewayv1.Gateway) {
			if err := ps.sync(rt, listenerPorts(gws)); err != nil {
				logger.Error("listener ports not served", "error", err)
			}
		},
	}
	if addrs := gatewayAddresses(f.gatewayAddresses); len(addrs) > 0 {
		opts.Addresses = func(types.NamespacedName) []gatewayv1.GatewayStatusAddress { return slices.Clone(addrs) }
	}
	c, err := kube.New(rest, opts)
	if err != nil {
		return nil, nil, err
	}
	ps.wrap = c.Gate
	return &clusterSource{c: c, class: f.gatewayClass, logger: logger}, c.Router(), nil
}

func (s *clusterSource) run(ctx context.Context) error { return s.c.Run(ctx) }

// reload has nothing to do: the Controller rebuilds after every change
// its informers see.
func (s *clusterSource) reload() {
	s.logger.Info("SIGHUP ignored: the cluster source rebuilds on every change it sees")
}

func (s *clusterSource) ready() bool { return s.c.Ready() }

func (s *clusterSource) status(doc *statusDoc) {
	doc.Source = "cluster"
	doc.Cluster = &clusterStatus{GatewayClass: s.class, Leader: s.c.Leader()}
}

package main

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
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
	// client-go's own records (leader election, watch errors) in the
	// binary's log format.
	klog.SetSlogLogger(logger)
	restCfg, err := kube.RESTConfig(f.kubeconfig)
	if err != nil {
		return nil, nil, err
	}
	restCfg.QPS, restCfg.Burst, restCfg.UserAgent = 50, 100, "httproute"
	base.Extensions, err = watchable(restCfg, f.load.extensions(logger), logger)
	if err != nil {
		return nil, nil, err
	}
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
	c, err := kube.New(restCfg, opts)
	if err != nil {
		return nil, nil, err
	}
	ps.wrap = c.Gate
	return &clusterSource{c: c, class: f.gatewayClass, logger: logger}, c.Router(), nil
}

// watchable returns the extensions whose objects the cluster source can
// watch: those without objects, and those whose kind the cluster serves
// (its CRD is installed) and the source may list and watch. A kind left
// out is logged; a route that refers to it reports it as unsupported. A
// cluster without kgateway's CRDs, or a ClusterRole without its kinds,
// is then still served, where kube.New would refuse to start or the
// Controller would wait forever for informers that cannot list.
func watchable(restCfg *rest.Config, exts []httproute.Extension, logger *slog.Logger) ([]httproute.Extension, error) {
	cs, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return nil, fmt.Errorf("kube: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []httproute.Extension
	for _, e := range exts {
		if e.New == nil {
			out = append(out, e)
			continue
		}
		resource, err := servedResource(cs.Discovery(), e.Kind)
		if err != nil {
			return nil, err
		}
		if resource == "" {
			logger.Info("extension kind not watched: the cluster does not serve it (its CRD is not installed)", "kind", e.Kind.String())
			continue
		}
		for _, verb := range []string{"list", "watch"} {
			review, err := cs.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
				Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
					Group: e.Kind.Group, Version: e.Kind.Version, Resource: resource, Verb: verb,
				}},
			}, metav1.CreateOptions{})
			if err != nil {
				return nil, fmt.Errorf("kube: may %s %s be watched: %w", verb, resource, err)
			}
			if !review.Status.Allowed {
				logger.Warn("extension kind not watched: the ClusterRole does not let the gateway "+verb+" it",
					"kind", e.Kind.String(), "resource", resource+"."+e.Kind.Group)
				resource = ""
				break
			}
		}
		if resource != "" {
			out = append(out, e)
		}
	}
	return out, nil
}

// servedResource returns the resource of kind that the cluster serves,
// "" when it serves none.
func servedResource(dc discovery.DiscoveryInterface, kind schema.GroupVersionKind) (string, error) {
	list, err := dc.ServerResourcesForGroupVersion(kind.GroupVersion().String())
	if apierrors.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("kube: discovering %s: %w", kind.GroupVersion(), err)
	}
	for _, r := range list.APIResources {
		if r.Kind == kind.Kind && !strings.Contains(r.Name, "/") {
			return r.Name, nil
		}
	}
	return "", nil
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

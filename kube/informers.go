package kube

import (
	"context"
	"fmt"
	"maps"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	coreinformers "k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/cache"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"
	gatewayinformers "sigs.k8s.io/gateway-api/pkg/client/informers/externalversions"
	gatewaylisters "sigs.k8s.io/gateway-api/pkg/client/listers/apis/v1"

	"github.com/httproute/httproute"
)

// informers are the Controller's caches of the cluster.
type informers struct {
	core    coreinformers.SharedInformerFactory
	gateway gatewayinformers.SharedInformerFactory
	dynamic dynamicinformer.DynamicSharedInformerFactory

	classes    gatewaylisters.GatewayClassLister
	gateways   gatewaylisters.GatewayLister
	routes     gatewaylisters.HTTPRouteLister
	grants     gatewaylisters.ReferenceGrantLister
	services   corelisters.ServiceLister
	slices     discoverylisters.EndpointSliceLister
	secrets    corelisters.SecretLister
	configMaps corelisters.ConfigMapLister
	namespaces corelisters.NamespaceLister
	extensions []extensionInformer

	// sets, grpcRoutes and tlsPolicies are nil when the cluster does not
	// serve ListenerSets, GRPCRoutes or BackendTLSPolicies (its Gateway
	// API CRDs predate them).
	sets        gatewaylisters.ListenerSetLister
	grpcRoutes  gatewaylisters.GRPCRouteLister
	tlsPolicies gatewaylisters.BackendTLSPolicyLister

	synced []cache.InformerSynced
}

// extensionInformer watches the objects of one extension kind.
type extensionInformer struct {
	ext    *httproute.Extension
	lister cache.GenericLister
}

// newInformers sets up the informers; changed is called on every change
// that can alter the compiled Config.
func newInformers(cfg *rest.Config, exts []httproute.Extension, changed func()) (*informers, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kube: %w", err)
	}
	gcs, err := gatewayclient.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kube: %w", err)
	}
	// No periodic resync: a rebuild reads every cache, so resyncs would
	// only cost compiles.
	in := &informers{
		core:    coreinformers.NewSharedInformerFactory(cs, 0),
		gateway: gatewayinformers.NewSharedInformerFactory(gcs, 0),
	}
	add := func(i cache.SharedIndexInformer, h cache.ResourceEventHandler) error {
		if _, err := i.AddEventHandler(h); err != nil {
			return fmt.Errorf("kube: %w", err)
		}
		in.synced = append(in.synced, i.HasSynced)
		return nil
	}
	// Gateway API objects change the Config through their metadata and
	// spec, never through their status, which the Controller writes: a
	// status write must not cost a rebuild.
	specOnly := handler(changed, specChanged)
	anyChange := handler(changed, func(a, b metav1.Object) bool { return a.GetResourceVersion() != b.GetResourceVersion() })

	gw := in.gateway.Gateway().V1()
	in.classes, in.gateways, in.routes, in.grants = gw.GatewayClasses().Lister(), gw.Gateways().Lister(), gw.HTTPRoutes().Lister(), gw.ReferenceGrants().Lister()
	core := in.core.Core().V1()
	in.services, in.secrets, in.configMaps, in.namespaces = core.Services().Lister(), core.Secrets().Lister(), core.ConfigMaps().Lister(), core.Namespaces().Lister()
	in.slices = in.core.Discovery().V1().EndpointSlices().Lister()
	for _, x := range []struct {
		i cache.SharedIndexInformer
		h cache.ResourceEventHandler
	}{
		{gw.GatewayClasses().Informer(), specOnly},
		{gw.Gateways().Informer(), specOnly},
		{gw.HTTPRoutes().Informer(), specOnly},
		{gw.ReferenceGrants().Informer(), specOnly},
		{core.Services().Informer(), anyChange},
		{in.core.Discovery().V1().EndpointSlices().Informer(), anyChange},
		{core.Secrets().Informer(), anyChange},
		{core.ConfigMaps().Informer(), anyChange},
		{core.Namespaces().Informer(), handler(changed, labelsChanged)},
	} {
		if err := add(x.i, x.h); err != nil {
			return nil, err
		}
	}

	// ListenerSets, GRPCRoutes and BackendTLSPolicies are watched where
	// the cluster serves them: a cache of a resource the API server lacks would never sync.
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kube: %w", err)
	}
	served, err := servedResources(dc, gatewayv1.GroupVersion.String())
	if err != nil {
		return nil, err
	}
	if served["listenersets"] {
		in.sets = gw.ListenerSets().Lister()
		if err := add(gw.ListenerSets().Informer(), specOnly); err != nil {
			return nil, err
		}
	}
	if served["grpcroutes"] {
		in.grpcRoutes = gw.GRPCRoutes().Lister()
		if err := add(gw.GRPCRoutes().Informer(), specOnly); err != nil {
			return nil, err
		}
	}

	if served["backendtlspolicies"] {
		in.tlsPolicies = gw.BackendTLSPolicies().Lister()
		if err := add(gw.BackendTLSPolicies().Informer(), specOnly); err != nil {
			return nil, err
		}
	}

	var watched []int
	for i := range exts {
		if exts[i].New != nil {
			watched = append(watched, i)
		}
	}
	if len(watched) == 0 {
		return in, nil
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kube: %w", err)
	}
	in.dynamic = dynamicinformer.NewDynamicSharedInformerFactory(dyn, 0)
	for _, i := range watched {
		ext := &exts[i]
		gvk := ext.Kind
		m, err := mapper.RESTMapping(schema.GroupKind{Group: gvk.Group, Kind: gvk.Kind}, gvk.Version)
		if err != nil {
			return nil, fmt.Errorf("kube: extension kind %s: the cluster does not serve it (is its CRD installed?): %w", gvk, err)
		}
		gi := in.dynamic.ForResource(m.Resource)
		if err := add(gi.Informer(), specOnly); err != nil {
			return nil, err
		}
		in.extensions = append(in.extensions, extensionInformer{ext: ext, lister: gi.Lister()})
	}
	return in, nil
}

// servedResources returns the names of the resources the API server
// serves in groupVersion; none when it does not serve the group version.
func servedResources(dc discovery.DiscoveryInterface, groupVersion string) (map[string]bool, error) {
	list, err := dc.ServerResourcesForGroupVersion(groupVersion)
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("kube: discovering %s: %w", groupVersion, err)
	}
	out := make(map[string]bool, len(list.APIResources))
	for _, r := range list.APIResources {
		out[r.Name] = true
	}
	return out, nil
}

// handler calls changed on adds, deletes, and updates for which relevant
// reports true.
func handler(changed func(), relevant func(old, cur metav1.Object) bool) cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { changed() },
		UpdateFunc: func(old, cur any) {
			o, err1 := metaOf(old)
			n, err2 := metaOf(cur)
			if err1 != nil || err2 != nil || relevant(o, n) {
				changed()
			}
		},
		DeleteFunc: func(any) { changed() },
	}
}

func metaOf(obj any) (metav1.Object, error) {
	m, ok := obj.(metav1.Object)
	if !ok {
		return nil, fmt.Errorf("kube: %T has no object metadata", obj)
	}
	return m, nil
}

// specChanged reports whether an object changed in more than its status:
// its generation (which the API server moves with the spec of a kind with
// a status subresource), labels or annotations.
func specChanged(a, b metav1.Object) bool {
	return a.GetGeneration() != b.GetGeneration() || a.GetGeneration() == 0 && a.GetResourceVersion() != b.GetResourceVersion() ||
		!maps.Equal(a.GetLabels(), b.GetLabels()) || !maps.Equal(a.GetAnnotations(), b.GetAnnotations()) ||
		!a.GetDeletionTimestamp().Equal(b.GetDeletionTimestamp())
}

// labelsChanged reports whether a Namespace's labels changed: all that the
// Config reads of it.
func labelsChanged(a, b metav1.Object) bool {
	return !maps.Equal(a.GetLabels(), b.GetLabels())
}

// start runs the informers and waits until every cache has synced.
func (in *informers) start(ctx context.Context) error {
	in.core.Start(ctx.Done())
	in.gateway.Start(ctx.Done())
	if in.dynamic != nil {
		in.dynamic.Start(ctx.Done())
	}
	if !cache.WaitForCacheSync(ctx.Done(), in.synced...) {
		return fmt.Errorf("kube: caches did not sync: %w", context.Cause(ctx))
	}
	return nil
}

// stop waits until the informers started with a context that is now done
// have stopped.
func (in *informers) stop() {
	in.core.Shutdown()
	in.gateway.Shutdown()
	if in.dynamic != nil {
		in.dynamic.Shutdown()
	}
}

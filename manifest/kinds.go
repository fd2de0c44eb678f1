package manifest

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	xv1alpha1 "sigs.k8s.io/gateway-api/apisx/v1alpha1"

	"github.com/httproute/httproute"
)

// kind is one group, version and kind the loader decodes.
type kind struct {
	// as is the GroupVersionKind objects get in their TypeMeta after
	// decoding: v1beta1 Gateway API objects become v1 objects, which have
	// the same shape.
	as         schema.GroupVersionKind
	namespaced bool
	// crd is set for Gateway API kinds, whose CRD schema validates them.
	crd bool
	new func() runtime.Object
	add func(m *Manifests, obj runtime.Object)
}

var (
	gatewayGroup = gatewayv1.GroupName
	coreV1       = schema.GroupVersion{Version: "v1"}
)

// kinds returns the kinds the loader decodes: the built-in ones and those
// of extensions, by the group, version and kind written in manifests.
func kinds(exts []httproute.Extension) (map[schema.GroupVersionKind]*kind, error) {
	ks := map[schema.GroupVersionKind]*kind{}
	gw := func(k string, namespaced bool, newObj func() runtime.Object, add func(*Manifests, runtime.Object), versions ...string) {
		as := gatewayv1.SchemeGroupVersion.WithKind(k)
		for _, v := range versions {
			ks[schema.GroupVersionKind{Group: gatewayGroup, Version: v, Kind: k}] = &kind{as: as, namespaced: namespaced, crd: true, new: newObj, add: add}
		}
	}
	gw("Gateway", true, func() runtime.Object { return &gatewayv1.Gateway{} },
		func(m *Manifests, o runtime.Object) {
			m.Config.Gateways = append(m.Config.Gateways, o.(*gatewayv1.Gateway))
		}, "v1", "v1beta1")
	gw("HTTPRoute", true, func() runtime.Object { return &gatewayv1.HTTPRoute{} },
		func(m *Manifests, o runtime.Object) {
			m.Config.HTTPRoutes = append(m.Config.HTTPRoutes, o.(*gatewayv1.HTTPRoute))
		}, "v1", "v1beta1")
	gw("GRPCRoute", true, func() runtime.Object { return &gatewayv1.GRPCRoute{} },
		func(m *Manifests, o runtime.Object) {
			m.Config.GRPCRoutes = append(m.Config.GRPCRoutes, o.(*gatewayv1.GRPCRoute))
		}, "v1")
	gw("ListenerSet", true, func() runtime.Object { return &gatewayv1.ListenerSet{} },
		func(m *Manifests, o runtime.Object) {
			m.Config.ListenerSets = append(m.Config.ListenerSets, o.(*gatewayv1.ListenerSet))
		}, "v1")
	gw("BackendTLSPolicy", true, func() runtime.Object { return &gatewayv1.BackendTLSPolicy{} },
		func(m *Manifests, o runtime.Object) {
			m.Config.BackendTLSPolicies = append(m.Config.BackendTLSPolicies, o.(*gatewayv1.BackendTLSPolicy))
		}, "v1")
	gw("ReferenceGrant", true, func() runtime.Object { return &gatewayv1.ReferenceGrant{} },
		func(m *Manifests, o runtime.Object) {
			m.Config.ReferenceGrants = append(m.Config.ReferenceGrants, o.(*gatewayv1.ReferenceGrant))
		}, "v1", "v1beta1")
	gw("GatewayClass", false, func() runtime.Object { return &gatewayv1.GatewayClass{} },
		func(m *Manifests, o runtime.Object) {
			m.GatewayClasses = append(m.GatewayClasses, o.(*gatewayv1.GatewayClass))
		}, "v1", "v1beta1")
	// Gateway API's experimental x-k8s.io kinds, served with the
	// experimental channel's CRDs.
	xk8s := func(k string, newObj func() runtime.Object, add func(*Manifests, runtime.Object)) {
		gvk := xv1alpha1.SchemeGroupVersion.WithKind(k)
		ks[gvk] = &kind{as: gvk, namespaced: true, crd: true, new: newObj, add: add}
	}
	xk8s("XBackend", func() runtime.Object { return &xv1alpha1.XBackend{} },
		func(m *Manifests, o runtime.Object) {
			m.Config.XBackends = append(m.Config.XBackends, o.(*xv1alpha1.XBackend))
		})
	xk8s("XTelemetryPolicy", func() runtime.Object { return &xv1alpha1.XTelemetryPolicy{} },
		func(m *Manifests, o runtime.Object) {
			m.Config.XTelemetryPolicies = append(m.Config.XTelemetryPolicies, o.(*xv1alpha1.XTelemetryPolicy))
		})
	core := func(k string, namespaced bool, newObj func() runtime.Object, add func(*Manifests, runtime.Object)) {
		gvk := coreV1.WithKind(k)
		ks[gvk] = &kind{as: gvk, namespaced: namespaced, new: newObj, add: add}
	}
	core("Namespace", false, func() runtime.Object { return &corev1.Namespace{} },
		func(m *Manifests, o runtime.Object) {
			m.Config.Namespaces = append(m.Config.Namespaces, o.(*corev1.Namespace))
		})
	core("Secret", true, func() runtime.Object { return &corev1.Secret{} },
		func(m *Manifests, o runtime.Object) {
			m.Config.Secrets = append(m.Config.Secrets, o.(*corev1.Secret))
		})
	core("ConfigMap", true, func() runtime.Object { return &corev1.ConfigMap{} },
		func(m *Manifests, o runtime.Object) {
			m.Config.ConfigMaps = append(m.Config.ConfigMaps, o.(*corev1.ConfigMap))
		})
	core("Service", true, func() runtime.Object { return &corev1.Service{} },
		func(m *Manifests, o runtime.Object) {
			m.Services = append(m.Services, o.(*corev1.Service))
		})
	// A Service's endpoints, for a ServiceResolver that balances over
	// them as in a cluster (package endpointslice).
	slice := discoveryv1.SchemeGroupVersion.WithKind("EndpointSlice")
	ks[slice] = &kind{as: slice, namespaced: true, new: func() runtime.Object { return &discoveryv1.EndpointSlice{} },
		add: func(m *Manifests, o runtime.Object) {
			m.EndpointSlices = append(m.EndpointSlices, o.(*discoveryv1.EndpointSlice))
		}}
	for i := range exts {
		e := &exts[i]
		if e.Kind.Kind == "" || e.Kind.Version == "" {
			return nil, fmt.Errorf("manifest: Extensions[%d] has no kind or version (%q)", i, e.Kind.String())
		}
		if prev, ok := ks[e.Kind]; ok {
			if prev.crd || prev.as.Group == "" || prev.as.Group == discoveryv1.GroupName {
				return nil, fmt.Errorf("manifest: Extensions[%d] redefines the built-in kind %s", i, e.Kind)
			}
			return nil, fmt.Errorf("manifest: Extensions[%d] registers %s twice", i, e.Kind)
		}
		newObj := e.New
		if newObj == nil {
			// The kind has no objects: a manifest with one is an error,
			// reported by Decode with the kind's name.
			continue
		}
		ks[e.Kind] = &kind{
			as:         e.Kind,
			namespaced: true,
			new:        func() runtime.Object { return newObj() },
			add: func(m *Manifests, o runtime.Object) {
				m.Config.Objects = append(m.Config.Objects, o.(httproute.Object))
			},
		}
	}
	return ks, nil
}

// servedVersions lists the versions of a group and kind that the loader
// decodes, for the message about an unknown apiVersion.
func servedVersions(ks map[schema.GroupVersionKind]*kind, group, k string) []string {
	var vs []string
	for gvk := range ks {
		if gvk.Group == group && gvk.Kind == k {
			vs = append(vs, gvk.GroupVersion().String())
		}
	}
	sort.Strings(vs)
	return vs
}

// unknownKind explains why a document's apiVersion and kind are not
// decoded.
func unknownKind(ks map[schema.GroupVersionKind]*kind, exts []httproute.Extension, gvk schema.GroupVersionKind) string {
	if vs := servedVersions(ks, gvk.Group, gvk.Kind); len(vs) > 0 {
		return fmt.Sprintf("apiVersion %q is not served for kind %s; use %s", gvk.GroupVersion(), gvk.Kind, strings.Join(vs, " or "))
	}
	for _, e := range exts {
		if e.Kind.GroupKind() == gvk.GroupKind() && e.New == nil {
			return fmt.Sprintf("the extension kind %s has no objects to load (its Extension.New is nil)", gvk.GroupKind())
		}
	}
	if gvk.Group == gatewayGroup {
		return fmt.Sprintf("the router does not serve %s objects; it loads %s", gvk.Kind, groupKinds(ks, gatewayGroup))
	}
	return fmt.Sprintf("no kind %s is registered for apiVersion %q; register it with an httproute.Extension", gvk.Kind, gvk.GroupVersion())
}

// groupKinds lists the kinds of group that the loader decodes, sorted,
// for the message about a kind it does not: "A, B and C".
func groupKinds(ks map[schema.GroupVersionKind]*kind, group string) string {
	seen := map[string]bool{}
	var names []string
	for gvk := range ks {
		if gvk.Group == group && !seen[gvk.Kind] {
			seen[gvk.Kind] = true
			names = append(names, gvk.Kind)
		}
	}
	sort.Strings(names)
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

package kube

import (
	"cmp"
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/httproute/httproute"
)

// servedClass is the class name the Gateways of every served class have in
// a Config: Config.GatewayClassName names one class, the Controller may
// serve several. It is not a valid object name, so no real class has it.
const servedClass gatewayv1.ObjectName = "httproute.kube/served"

// buildConfig builds the Config of the cluster as the caches hold it, and
// returns the Gateways it serves: those of the classes that name the
// Controller. Objects are shared with the caches, which the Router never
// modifies; they are sorted by namespace and name so that equal caches
// build equal Configs.
func (c *Controller) buildConfig() (httproute.Config, []*gatewayv1.Gateway) {
	cfg := c.opts.Base
	cfg.GatewayClassName = servedClass
	cfg.ControllerName = c.controller
	cfg.Gateways, cfg.HTTPRoutes, cfg.ReferenceGrants, cfg.Namespaces, cfg.Secrets, cfg.Objects = nil, nil, nil, nil, nil, nil
	cfg.ListenerSets, cfg.GRPCRoutes = nil, nil
	cfg.ConfigMaps, cfg.BackendTLSPolicies = nil, nil
	cfg.Services = nil
	if cfg.Logger == nil {
		cfg.Logger = c.logger
	}

	all := list(c.inf.gateways.List)
	var served []*gatewayv1.Gateway
	// Every Gateway, so that the Router tells a parentRef to a Gateway of
	// another class (ignored) from one to a missing Gateway; those of the
	// served classes as shallow copies in class servedClass.
	cfg.Gateways = make([]*gatewayv1.Gateway, 0, len(all))
	for _, gw := range all {
		if c.servesClass(gw.Spec.GatewayClassName) {
			served = append(served, gw)
			cp := *gw
			cp.Spec.GatewayClassName = servedClass
			gw = &cp
		}
		cfg.Gateways = append(cfg.Gateways, gw)
	}
	if len(served) == 0 {
		// A Config without Gateways would serve every route on an
		// implicit listener: the empty Config serves nothing.
		cfg.Gateways = nil
		return cfg, nil
	}
	cfg.HTTPRoutes = list(c.inf.routes.List)
	if c.inf.sets != nil {
		cfg.ListenerSets = list(c.inf.sets.List)
	}
	if c.inf.grpcRoutes != nil {
		cfg.GRPCRoutes = list(c.inf.grpcRoutes.List)
	}
	cfg.ReferenceGrants = list(c.inf.grants.List)
	cfg.Namespaces = list(c.inf.namespaces.List)
	cfg.Secrets = list(c.inf.secrets.List)
	cfg.ConfigMaps = list(c.inf.configMaps.List)
	if c.inf.tlsPolicies != nil {
		cfg.BackendTLSPolicies = list(c.inf.tlsPolicies.List)
	}
	cfg.Services = c.resolver.For(list(c.inf.services.List), list(c.inf.slices.List))
	for _, x := range c.inf.extensions {
		objs, err := x.lister.List(labels.Everything())
		if err != nil {
			c.logger.Error("kube: listing extension objects", "kind", x.ext.Kind, "err", err)
			continue
		}
		for _, o := range objs {
			obj, err := convert(o, x.ext)
			if err != nil {
				c.logger.Error("kube: extension object skipped", "err", err)
				continue
			}
			cfg.Objects = append(cfg.Objects, obj)
		}
	}
	slices.SortFunc(cfg.Objects, func(a, b httproute.Object) int { return compareMeta(a, b) })
	return cfg, served
}

// servesClass reports whether the Controller serves the Gateways of the
// named class: the class exists, names the Controller, and is the one of
// Options.GatewayClassName when that is set.
func (c *Controller) servesClass(name gatewayv1.ObjectName) bool {
	if c.opts.GatewayClassName != "" && name != c.opts.GatewayClassName {
		return false
	}
	gwc, err := c.inf.classes.Get(string(name))
	return err == nil && gwc.Spec.ControllerName == c.controller
}

// list returns what a lister lists, sorted by namespace and name.
func list[T metav1.Object](f func(labels.Selector) ([]T, error)) []T {
	// A cache's lister fails on no selector, Everything least of all.
	out, _ := f(labels.Everything())
	slices.SortFunc(out, func(a, b T) int { return compareMeta(a, b) })
	return out
}

func compareMeta(a, b metav1.Object) int {
	return cmp.Or(cmp.Compare(a.GetNamespace(), b.GetNamespace()), cmp.Compare(a.GetName(), b.GetName()))
}

// convert turns an object of a dynamic informer into the extension's own
// type, with its TypeMeta set as Config.Objects requires.
func convert(o runtime.Object, ext *httproute.Extension) (httproute.Object, error) {
	u, ok := o.(*unstructured.Unstructured)
	if !ok {
		return nil, fmt.Errorf("kube: %s: unexpected %T in the cache", ext.Kind, o)
	}
	obj := ext.New()
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj); err != nil {
		return nil, fmt.Errorf("kube: %s %s/%s: %w", ext.Kind.Kind, u.GetNamespace(), u.GetName(), err)
	}
	obj.GetObjectKind().SetGroupVersionKind(ext.Kind)
	return obj, nil
}

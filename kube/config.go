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

// buildConfig builds the Config of the cluster as the caches hold it, and
// returns the Gateways it serves: those of the Controller's class, when
// that class names the Controller. Objects are shared with the caches,
// which the Router never modifies; they are sorted by namespace and name
// so that equal caches build equal Configs.
func (c *Controller) buildConfig() (httproute.Config, []*gatewayv1.Gateway) {
	cfg := c.opts.Base
	cfg.GatewayClassName = c.opts.GatewayClassName
	cfg.ControllerName = c.controller
	cfg.Gateways, cfg.HTTPRoutes, cfg.ReferenceGrants, cfg.Namespaces, cfg.Secrets, cfg.Objects = nil, nil, nil, nil, nil, nil
	cfg.Services = nil
	if cfg.Logger == nil {
		cfg.Logger = c.logger
	}

	if !c.classServed() {
		// A Config without Gateways would serve every route on an
		// implicit listener: the empty Config serves nothing.
		return cfg, nil
	}
	all := list(c.inf.gateways.List)
	var served []*gatewayv1.Gateway
	for _, gw := range all {
		if gw.Spec.GatewayClassName == c.opts.GatewayClassName {
			served = append(served, gw)
		}
	}
	if len(served) == 0 {
		return cfg, nil
	}
	// Every Gateway, so that the Router tells a parentRef to a Gateway of
	// another class (ignored) from one to a missing Gateway.
	cfg.Gateways = all
	cfg.HTTPRoutes = list(c.inf.routes.List)
	cfg.ReferenceGrants = list(c.inf.grants.List)
	cfg.Namespaces = list(c.inf.namespaces.List)
	cfg.Secrets = list(c.inf.secrets.List)
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

// classServed reports whether the Controller's GatewayClass exists and
// names the Controller.
func (c *Controller) classServed() bool {
	gwc, err := c.inf.classes.Get(string(c.opts.GatewayClassName))
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

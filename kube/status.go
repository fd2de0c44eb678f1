package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"github.com/httproute/httproute"
)

// statusWriter writes the status the Router reports into the cluster with
// server-side apply.
type statusWriter struct {
	c      *Controller
	client gatewayclient.Interface
	now    func() time.Time
}

func newStatusWriter(cfg *rest.Config, c *Controller) (*statusWriter, error) {
	gcs, err := gatewayclient.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kube: %w", err)
	}
	now := c.opts.Base.Now
	if now == nil {
		now = time.Now
	}
	return &statusWriter{c: c, client: gcs, now: now}, nil
}

// applyObject is the body of a server-side apply of an object's status.
// The resourceVersion makes the apply conditional: it fails with a
// conflict when the object changed since it was read, and is retried on
// the object read again.
type applyObject struct {
	APIVersion string        `json:"apiVersion"`
	Kind       string        `json:"kind"`
	Metadata   applyMetadata `json:"metadata"`
	Status     any           `json:"status"`
}

type applyMetadata struct {
	Name            string `json:"name"`
	Namespace       string `json:"namespace,omitempty"`
	ResourceVersion string `json:"resourceVersion"`
}

// write brings the status of the GatewayClasses the Controller serves, of
// their Gateways and of every HTTPRoute in line with rs. It writes only
// objects whose status differs, with StatusWorkers writes at once, and
// returns every failure.
func (s *statusWriter) write(ctx context.Context, rs httproute.Status) error {
	var jobs []func() error
	for _, gwc := range list(s.c.inf.classes.List) {
		if s.c.servesClass(gatewayv1.ObjectName(gwc.Name)) {
			jobs = append(jobs, func() error { return s.writeClass(ctx, gwc) })
		}
	}
	for _, gw := range list(s.c.inf.gateways.List) {
		nn := types.NamespacedName{Namespace: gw.Namespace, Name: gw.Name}
		st, ok := rs.Gateways[nn]
		if !ok || !s.c.servesClass(gw.Spec.GatewayClassName) {
			continue
		}
		if len(st.Addresses) == 0 && s.c.opts.Addresses != nil {
			st.Addresses = s.c.opts.Addresses(nn)
		}
		if equality.Semantic.DeepEqual(gw.Status, httproute.MergeGatewayStatus(gw.Status, st)) {
			continue
		}
		jobs = append(jobs, func() error { return s.applyGateway(ctx, gw, st) })
	}
	if s.c.inf.sets != nil {
		for _, ls := range list(s.c.inf.sets.List) {
			st, ok := rs.ListenerSets[types.NamespacedName{Namespace: ls.Namespace, Name: ls.Name}]
			if !ok || !s.parentServed(ls) || equality.Semantic.DeepEqual(ls.Status, httproute.MergeListenerSetStatus(ls.Status, st)) {
				continue
			}
			jobs = append(jobs, func() error { return s.applyListenerSet(ctx, ls, st) })
		}
	}
	for _, r := range list(s.c.inf.routes.List) {
		nn := types.NamespacedName{Namespace: r.Namespace, Name: r.Name}
		ours := rs.HTTPRoutes[nn].Parents
		if parentsEqual(r.Status.Parents, s.routeParents(r, ours)) {
			continue
		}
		jobs = append(jobs, func() error { return s.applyRoute(ctx, r, ours) })
	}
	return errors.Join(s.run(ctx, jobs)...)
}

// routeParents returns the parent entries to write into r from ours, the
// Controller's: ours, the entries of other controllers, and the entries of
// this controllerName for Gateways of another class, which belong to the
// replicas serving that class.
func (s *statusWriter) routeParents(r *gatewayv1.HTTPRoute, ours []gatewayv1.RouteParentStatus) []gatewayv1.RouteParentStatus {
	merged := httproute.MergeRouteParents(r.Status.Parents, ours, s.c.controller)
	for _, p := range r.Status.Parents {
		if p.ControllerName == s.c.controller && s.otherClass(r.Namespace, p.ParentRef) {
			merged = append(merged, *p.DeepCopy())
		}
	}
	return merged
}

// otherClass reports whether ref, from a route in namespace ns, is a
// Gateway that exists and is of another class than the Controller's.
func (s *statusWriter) otherClass(ns string, ref gatewayv1.ParentReference) bool {
	if ref.Group != nil && *ref.Group != gatewayv1.GroupName || ref.Kind != nil && *ref.Kind != "Gateway" {
		return false
	}
	if ref.Namespace != nil {
		ns = string(*ref.Namespace)
	}
	gw, err := s.c.inf.gateways.Gateways(ns).Get(string(ref.Name))
	return err == nil && !s.c.servesClass(gw.Spec.GatewayClassName)
}

// parentsEqual reports whether two lists of parent entries hold the same
// entries, in any order: writers of other controllers may order them
// differently, and rewriting the order only would never settle.
func parentsEqual(a, b []gatewayv1.RouteParentStatus) bool {
	if len(a) != len(b) {
		return false
	}
	key := func(p gatewayv1.RouteParentStatus) string {
		r := p.ParentRef
		return fmt.Sprintf("%s|%s|%s|%s|%s|%s|%d", p.ControllerName, deref(r.Group), deref(r.Kind), deref(r.Namespace), r.Name, deref(r.SectionName), deref(r.Port))
	}
	sorted := func(l []gatewayv1.RouteParentStatus) []gatewayv1.RouteParentStatus {
		return slices.SortedFunc(slices.Values(l), func(x, y gatewayv1.RouteParentStatus) int { return strings.Compare(key(x), key(y)) })
	}
	return equality.Semantic.DeepEqual(sorted(a), sorted(b))
}

// run runs jobs on StatusWorkers goroutines and returns their errors.
func (s *statusWriter) run(ctx context.Context, jobs []func() error) []error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	next := make(chan func() error)
	for range min(s.c.opts.StatusWorkers, len(jobs)) {
		wg.Go(func() {
			for job := range next {
				if err := job(); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	for _, job := range jobs {
		if ctx.Err() != nil || !s.c.leader.isLeader() {
			break // a replica that lost the Lease stops writing
		}
		next <- job
	}
	close(next)
	wg.Wait()
	return errs
}

// writeClass accepts a GatewayClass the Controller serves.
func (s *statusWriter) writeClass(ctx context.Context, gwc *gatewayv1.GatewayClass) error {
	first := true
	return retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		if !first {
			var err error
			if gwc, err = s.client.GatewayV1().GatewayClasses().Get(ctx, gwc.Name, metav1.GetOptions{}); err != nil {
				return ignoreNotFound(err)
			}
		}
		first = false
		next := httproute.GatewayClassStatus(gwc, s.now())
		merged := next
		merged.Conditions = httproute.MergeConditions(gwc.Status.Conditions, next.Conditions)
		if equality.Semantic.DeepEqual(gwc.Status, merged) {
			return nil
		}
		// Only the conditions the Controller computes are applied:
		// conditions of other types stay with their owners.
		merged.Conditions = merged.Conditions[:len(next.Conditions)]
		return s.apply(ctx, "GatewayClass", "", gwc.Name, gwc.ResourceVersion, merged,
			func(ctx context.Context, body []byte, opts metav1.PatchOptions) error {
				_, err := s.client.GatewayV1().GatewayClasses().Patch(ctx, gwc.Name, types.ApplyPatchType, body, opts, "status")
				return err
			})
	})
}

// applyGateway writes st, the status the Router computed, into gw.
func (s *statusWriter) applyGateway(ctx context.Context, gw *gatewayv1.Gateway, st gatewayv1.GatewayStatus) error {
	first := true
	return retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		if !first {
			var err error
			if gw, err = s.client.GatewayV1().Gateways(gw.Namespace).Get(ctx, gw.Name, metav1.GetOptions{}); err != nil {
				return ignoreNotFound(err)
			}
		}
		first = false
		merged := httproute.MergeGatewayStatus(gw.Status, st)
		if equality.Semantic.DeepEqual(gw.Status, merged) {
			return nil
		}
		// MergeGatewayStatus puts the Router's conditions first and
		// foreign ones after them: apply only the Router's, so that the
		// others stay owned by whoever wrote them.
		merged.Conditions = merged.Conditions[:len(st.Conditions)]
		for i := range merged.Listeners {
			merged.Listeners[i].Conditions = merged.Listeners[i].Conditions[:len(st.Listeners[i].Conditions)]
		}
		return s.apply(ctx, "Gateway", gw.Namespace, gw.Name, gw.ResourceVersion, merged,
			func(ctx context.Context, body []byte, opts metav1.PatchOptions) error {
				_, err := s.client.GatewayV1().Gateways(gw.Namespace).Patch(ctx, gw.Name, types.ApplyPatchType, body, opts, "status")
				return err
			})
	})
}

// parentServed reports whether the parent of ls is a Gateway of a class
// the Controller serves: the ListenerSet's status is then its to write.
// The Router also reports ListenerSets whose Gateway it cannot find,
// which no controller can claim.
func (s *statusWriter) parentServed(ls *gatewayv1.ListenerSet) bool {
	ns := ls.Namespace
	if p := ls.Spec.ParentRef.Namespace; p != nil {
		ns = string(*p)
	}
	gw, err := s.c.inf.gateways.Gateways(ns).Get(string(ls.Spec.ParentRef.Name))
	return err == nil && s.c.servesClass(gw.Spec.GatewayClassName)
}

// applyListenerSet writes st, the status the Router computed, into ls.
func (s *statusWriter) applyListenerSet(ctx context.Context, ls *gatewayv1.ListenerSet, st gatewayv1.ListenerSetStatus) error {
	first := true
	return retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		if !first {
			var err error
			if ls, err = s.client.GatewayV1().ListenerSets(ls.Namespace).Get(ctx, ls.Name, metav1.GetOptions{}); err != nil {
				return ignoreNotFound(err)
			}
		}
		first = false
		merged := httproute.MergeListenerSetStatus(ls.Status, st)
		if equality.Semantic.DeepEqual(ls.Status, merged) {
			return nil
		}
		// As for Gateways: apply only the Router's conditions.
		merged.Conditions = merged.Conditions[:len(st.Conditions)]
		for i := range merged.Listeners {
			merged.Listeners[i].Conditions = merged.Listeners[i].Conditions[:len(st.Listeners[i].Conditions)]
		}
		return s.apply(ctx, "ListenerSet", ls.Namespace, ls.Name, ls.ResourceVersion, merged,
			func(ctx context.Context, body []byte, opts metav1.PatchOptions) error {
				_, err := s.client.GatewayV1().ListenerSets(ls.Namespace).Patch(ctx, ls.Name, types.ApplyPatchType, body, opts, "status")
				return err
			})
	})
}

// applyRoute writes the Controller's parent entries, ours, into r. The
// parents list is atomic: the entries of other controllers are written
// back as they were read.
func (s *statusWriter) applyRoute(ctx context.Context, r *gatewayv1.HTTPRoute, ours []gatewayv1.RouteParentStatus) error {
	first := true
	return retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		if !first {
			var err error
			if r, err = s.client.GatewayV1().HTTPRoutes(r.Namespace).Get(ctx, r.Name, metav1.GetOptions{}); err != nil {
				return ignoreNotFound(err)
			}
		}
		first = false
		merged := s.routeParents(r, ours)
		if parentsEqual(r.Status.Parents, merged) {
			return nil
		}
		st := gatewayv1.HTTPRouteStatus{RouteStatus: gatewayv1.RouteStatus{Parents: merged}}
		return s.apply(ctx, "HTTPRoute", r.Namespace, r.Name, r.ResourceVersion, st,
			func(ctx context.Context, body []byte, opts metav1.PatchOptions) error {
				_, err := s.client.GatewayV1().HTTPRoutes(r.Namespace).Patch(ctx, r.Name, types.ApplyPatchType, body, opts, "status")
				return err
			})
	})
}

// apply sends a server-side apply of status to an object's status
// subresource, forcing ownership of the fields it sets: they are the
// Controller's to write.
func (s *statusWriter) apply(ctx context.Context, kind, namespace, name, resourceVersion string, status any,
	patch func(context.Context, []byte, metav1.PatchOptions) error) error {
	body, err := json.Marshal(applyObject{
		APIVersion: gatewayv1.GroupVersion.String(),
		Kind:       kind,
		Metadata:   applyMetadata{Name: name, Namespace: namespace, ResourceVersion: resourceVersion},
		Status:     status,
	})
	if err != nil {
		return fmt.Errorf("kube: %s %s/%s status: %w", kind, namespace, name, err)
	}
	force := true
	err = patch(ctx, body, metav1.PatchOptions{FieldManager: FieldManager, Force: &force})
	switch {
	case err == nil:
		return nil
	case apierrors.IsConflict(err):
		return err // retried on the object read again
	case apierrors.IsNotFound(err):
		return nil // deleted meanwhile
	default:
		return fmt.Errorf("kube: %s %s/%s status: %w", kind, namespace, name, err)
	}
}

// ignoreNotFound drops the error of an object deleted meanwhile: it has no
// status to write.
func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

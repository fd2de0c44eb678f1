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
// their Gateways and ListenerSets, and of every HTTPRoute, GRPCRoute and
// BackendTLSPolicy in line with rs. It writes only objects whose status differs, with
// StatusWorkers writes at once, and returns every failure.
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
	jobs = appendRouteJobs(ctx, s, jobs, httpRoutes(s.client), list(s.c.inf.routes.List), func(nn types.NamespacedName) []gatewayv1.RouteParentStatus {
		return rs.HTTPRoutes[nn].Parents
	})
	if s.c.inf.grpcRoutes != nil {
		jobs = appendRouteJobs(ctx, s, jobs, grpcRoutes(s.client), list(s.c.inf.grpcRoutes.List), func(nn types.NamespacedName) []gatewayv1.RouteParentStatus {
			return rs.GRPCRoutes[nn].Parents
		})
	}
	if s.c.inf.tlsPolicies != nil {
		for _, p := range list(s.c.inf.tlsPolicies.List) {
			ours := rs.BackendTLSPolicies[types.NamespacedName{Namespace: p.Namespace, Name: p.Name}].Ancestors
			if ancestorsEqual(p.Status.Ancestors, s.policyAncestors(p.Namespace, p.Status.Ancestors, ours)) {
				continue
			}
			jobs = append(jobs, func() error { return s.applyTLSPolicy(ctx, p, ours) })
		}
	}
	return errors.Join(s.run(ctx, jobs)...)
}

// routeParents returns the parent entries to write into a route of
// namespace ns whose entries are cur, from ours, the Controller's: ours,
// the entries of other controllers, and the entries of this
// controllerName for Gateways of another class, which belong to the
// replicas serving that class.
func (s *statusWriter) routeParents(ns string, cur, ours []gatewayv1.RouteParentStatus) []gatewayv1.RouteParentStatus {
	merged := httproute.MergeRouteParents(cur, ours, s.c.controller)
	for _, p := range cur {
		if p.ControllerName == s.c.controller && s.otherClass(ns, p.ParentRef) {
			merged = append(merged, *p.DeepCopy())
		}
	}
	return merged
}

// policyAncestors returns the ancestor entries to write into a policy of
// namespace ns whose entries are cur, from ours, the Controller's: as
// routeParents does for a route's parent entries, ours replace the
// Controller's own, with stable transition times, and the entries of
// other controllers and of Gateways of another class are kept. The list
// is never nil: the API requires it.
func (s *statusWriter) policyAncestors(ns string, cur, ours []gatewayv1.PolicyAncestorStatus) []gatewayv1.PolicyAncestorStatus {
	merged := httproute.MergePolicyAncestors(cur, ours, s.c.controller)
	for _, o := range cur {
		if o.ControllerName == s.c.controller && s.otherClass(ns, o.AncestorRef) {
			merged = append(merged, *o.DeepCopy())
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
	return sameEntries(a, b, func(p gatewayv1.RouteParentStatus) string { return entryKey(p.ControllerName, p.ParentRef) })
}

// ancestorsEqual is parentsEqual for the ancestor entries of a policy.
func ancestorsEqual(a, b []gatewayv1.PolicyAncestorStatus) bool {
	return sameEntries(a, b, func(p gatewayv1.PolicyAncestorStatus) string { return entryKey(p.ControllerName, p.AncestorRef) })
}

// entryKey identifies the entry of a controller for a parent or ancestor.
func entryKey(controller gatewayv1.GatewayController, r gatewayv1.ParentReference) string {
	return fmt.Sprintf("%s|%s|%s|%s|%s|%s|%d", controller, deref(r.Group), deref(r.Kind), deref(r.Namespace), r.Name, deref(r.SectionName), deref(r.Port))
}

// sameEntries reports whether a and b hold equal entries once both are
// sorted by key.
func sameEntries[E any](a, b []E, key func(E) string) bool {
	if len(a) != len(b) {
		return false
	}
	sorted := func(l []E) []E {
		return slices.SortedFunc(slices.Values(l), func(x, y E) int { return strings.Compare(key(x), key(y)) })
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
	get := func() (*gatewayv1.GatewayClass, error) {
		return s.client.GatewayV1().GatewayClasses().Get(ctx, gwc.Name, metav1.GetOptions{})
	}
	return rereadOnConflict(gwc, get, func(gwc *gatewayv1.GatewayClass) error {
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
	get := func() (*gatewayv1.Gateway, error) {
		return s.client.GatewayV1().Gateways(gw.Namespace).Get(ctx, gw.Name, metav1.GetOptions{})
	}
	return rereadOnConflict(gw, get, func(gw *gatewayv1.Gateway) error {
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
	get := func() (*gatewayv1.ListenerSet, error) {
		return s.client.GatewayV1().ListenerSets(ls.Namespace).Get(ctx, ls.Name, metav1.GetOptions{})
	}
	return rereadOnConflict(ls, get, func(ls *gatewayv1.ListenerSet) error {
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

// routeKind is a kind of route whose parent entries the Controller
// writes: HTTPRoute or GRPCRoute.
type routeKind[R metav1.Object] struct {
	kind    string
	parents func(R) []gatewayv1.RouteParentStatus
	client  func(ns string) routeClient[R]
}

// routeClient is what the status writer calls of a route kind's typed
// client.
type routeClient[R any] interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (R, error)
	Patch(ctx context.Context, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions, subresources ...string) (R, error)
}

func httpRoutes(cs gatewayclient.Interface) routeKind[*gatewayv1.HTTPRoute] {
	return routeKind[*gatewayv1.HTTPRoute]{
		kind:    "HTTPRoute",
		parents: func(r *gatewayv1.HTTPRoute) []gatewayv1.RouteParentStatus { return r.Status.Parents },
		client:  func(ns string) routeClient[*gatewayv1.HTTPRoute] { return cs.GatewayV1().HTTPRoutes(ns) },
	}
}

func grpcRoutes(cs gatewayclient.Interface) routeKind[*gatewayv1.GRPCRoute] {
	return routeKind[*gatewayv1.GRPCRoute]{
		kind:    "GRPCRoute",
		parents: func(r *gatewayv1.GRPCRoute) []gatewayv1.RouteParentStatus { return r.Status.Parents },
		client:  func(ns string) routeClient[*gatewayv1.GRPCRoute] { return cs.GatewayV1().GRPCRoutes(ns) },
	}
}

// appendRouteJobs appends to jobs a write of each route of routes whose
// parent entries differ from those to write; ours returns the
// Controller's entries of a route.
func appendRouteJobs[R metav1.Object](ctx context.Context, s *statusWriter, jobs []func() error, k routeKind[R], routes []R,
	ours func(types.NamespacedName) []gatewayv1.RouteParentStatus) []func() error {
	for _, r := range routes {
		want := ours(types.NamespacedName{Namespace: r.GetNamespace(), Name: r.GetName()})
		if parentsEqual(k.parents(r), s.routeParents(r.GetNamespace(), k.parents(r), want)) {
			continue
		}
		jobs = append(jobs, func() error { return applyRoute(ctx, s, k, r, want) })
	}
	return jobs
}

// applyRoute writes the Controller's parent entries, ours, into r. The
// parents list is atomic: the entries of other controllers are written
// back as they were read.
func applyRoute[R metav1.Object](ctx context.Context, s *statusWriter, k routeKind[R], r R, ours []gatewayv1.RouteParentStatus) error {
	ns, name := r.GetNamespace(), r.GetName()
	get := func() (R, error) { return k.client(ns).Get(ctx, name, metav1.GetOptions{}) }
	return rereadOnConflict(r, get, func(r R) error {
		merged := s.routeParents(ns, k.parents(r), ours)
		if parentsEqual(k.parents(r), merged) {
			return nil
		}
		// HTTPRouteStatus and GRPCRouteStatus are RouteStatus inlined.
		st := gatewayv1.RouteStatus{Parents: merged}
		return s.apply(ctx, k.kind, ns, name, r.GetResourceVersion(), st,
			func(ctx context.Context, body []byte, opts metav1.PatchOptions) error {
				_, err := k.client(ns).Patch(ctx, name, types.ApplyPatchType, body, opts, "status")
				return err
			})
	})
}

// applyTLSPolicy writes the Controller's ancestor entries, ours, into p.
// The ancestors list is atomic: the entries of other controllers are
// written back as they were read.
func (s *statusWriter) applyTLSPolicy(ctx context.Context, p *gatewayv1.BackendTLSPolicy, ours []gatewayv1.PolicyAncestorStatus) error {
	get := func() (*gatewayv1.BackendTLSPolicy, error) {
		return s.client.GatewayV1().BackendTLSPolicies(p.Namespace).Get(ctx, p.Name, metav1.GetOptions{})
	}
	return rereadOnConflict(p, get, func(p *gatewayv1.BackendTLSPolicy) error {
		merged := s.policyAncestors(p.Namespace, p.Status.Ancestors, ours)
		if ancestorsEqual(p.Status.Ancestors, merged) {
			return nil
		}
		return s.apply(ctx, "BackendTLSPolicy", p.Namespace, p.Name, p.ResourceVersion, gatewayv1.PolicyStatus{Ancestors: merged},
			func(ctx context.Context, body []byte, opts metav1.PatchOptions) error {
				_, err := s.client.GatewayV1().BackendTLSPolicies(p.Namespace).Patch(ctx, p.Name, types.ApplyPatchType, body, opts, "status")
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

// rereadOnConflict calls write with obj, and again with the object read
// anew by get as long as write fails with a conflict (retry.DefaultBackoff);
// an object deleted meanwhile has no status left to write.
func rereadOnConflict[T any](obj T, get func() (T, error), write func(T) error) error {
	first := true
	return retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		if !first {
			var err error
			if obj, err = get(); err != nil {
				return ignoreNotFound(err)
			}
		}
		first = false
		return write(obj)
	})
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

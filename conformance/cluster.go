package conformance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/uuid"
	k8sfake "k8s.io/client-go/kubernetes/fake"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"
	"sigs.k8s.io/gateway-api/pkg/consts"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/internal/podnet"
)

// Names the harness gives to the cluster objects it creates itself.
const (
	gatewayClassName = "httproute"
	// apiChannel is the channel the emulated API server serves: the fake
	// client stores every field of the Go types, experimental ones too.
	apiChannel = "experimental"
)

// cluster plays a Kubernetes cluster with a Gateway API controller for
// the suite. All writes go through client; each is followed, before it
// returns, by reconcile.
type cluster struct {
	scheme *runtime.Scheme
	// store is the fake API server's storage, written without
	// interception by reconcile.
	store client.WithWatch
	// client is what the suite uses.
	client    client.Client
	clientset *clientset

	router  *httproute.Router
	net     *network
	backend *backends
	logger  *slog.Logger

	// mu serializes writes with their reconciles.
	mu sync.Mutex
}

func newScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		clientgoscheme.AddToScheme,
		apiextensionsv1.AddToScheme,
		gatewayv1.Install,
		gatewayv1beta1.Install,
	} {
		if err := add(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// newCluster starts an empty cluster with the harness's GatewayClass and
// a Gateway API CRD carrying the bundle version the suite checks.
func newCluster(logger *slog.Logger) (*cluster, error) {
	scheme, err := newScheme()
	if err != nil {
		return nil, err
	}
	c := &cluster{
		scheme: scheme,
		store: fake.NewClientBuilder().WithScheme(scheme).
			WithStatusSubresource(&gatewayv1.GatewayClass{}, &gatewayv1.Gateway{}, &gatewayv1.HTTPRoute{}, &gatewayv1.GRPCRoute{}, &gatewayv1.ListenerSet{}, &gatewayv1.BackendTLSPolicy{}).
			Build(),
		router: &httproute.Router{},
		net:    newNetwork(logger),
		logger: logger,
	}
	c.backend = newBackends(logger)
	c.backend.Data = c.podData
	c.client = interceptor.NewClient(c.store, interceptor.Funcs{
		Create:      c.create,
		Update:      c.update,
		Patch:       c.patch,
		Delete:      c.delete,
		DeleteAllOf: c.deleteAllOf,
	})
	c.clientset = &clientset{Clientset: k8sfake.NewClientset(), logs: c.backend.Logs}

	ctx := context.Background()
	crd := &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{
			Name: "gateways.gateway.networking.k8s.io",
			Annotations: map[string]string{
				consts.BundleVersionAnnotation: consts.BundleVersion,
				consts.ChannelAnnotation:       apiChannel,
			},
		},
	}
	gwc := &gatewayv1.GatewayClass{
		ObjectMeta: metav1.ObjectMeta{Name: gatewayClassName},
		Spec:       gatewayv1.GatewayClassSpec{ControllerName: httproute.DefaultControllerName},
	}
	for _, o := range []client.Object{crd, gwc} {
		if err := c.client.Create(ctx, o); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// Close stops every server the cluster started.
func (c *cluster) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.net.close()
	c.backend.Close()
}

// create is the API server's create: it sets what the server owns in
// metadata, then reconciles.
func (c *cluster) create(ctx context.Context, store client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	obj.SetGeneration(1)
	obj.SetCreationTimestamp(metav1.NewTime(time.Now().Truncate(time.Second)))
	if obj.GetUID() == "" {
		obj.SetUID(uuid.NewUUID())
	}
	c.labelNamespace(obj)
	if err := store.Create(ctx, obj, opts...); err != nil {
		return err
	}
	return c.reconcile(ctx)
}

// update is the API server's update: metadata the server owns is kept, and
// the generation moves when anything but metadata and status changed.
func (c *cluster) update(ctx context.Context, store client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	old, err := c.get(ctx, obj)
	if err != nil {
		return err
	}
	obj.SetCreationTimestamp(old.GetCreationTimestamp())
	obj.SetUID(old.GetUID())
	obj.SetGeneration(old.GetGeneration())
	c.labelNamespace(obj)
	changed, err := c.specChanged(old, obj)
	if err != nil {
		return err
	}
	if changed {
		obj.SetGeneration(old.GetGeneration() + 1)
	}
	if err := store.Update(ctx, obj, opts...); err != nil {
		return err
	}
	return c.reconcile(ctx)
}

// patch is the API server's patch, with update's generation rule.
func (c *cluster) patch(ctx context.Context, store client.WithWatch, obj client.Object, p client.Patch, opts ...client.PatchOption) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	old, err := c.get(ctx, obj)
	if err != nil {
		return err
	}
	if err := store.Patch(ctx, obj, p, opts...); err != nil {
		return err
	}
	cur, err := c.get(ctx, obj)
	if err != nil {
		return err
	}
	changed, err := c.specChanged(old, cur)
	if err != nil {
		return err
	}
	if changed || cur.GetGeneration() != old.GetGeneration() {
		cur.SetGeneration(old.GetGeneration() + 1)
		if err := store.Update(ctx, cur); err != nil {
			return err
		}
		if err := store.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
	}
	return c.reconcile(ctx)
}

func (c *cluster) delete(ctx context.Context, store client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := store.Delete(ctx, obj, opts...); err != nil {
		return err
	}
	return c.reconcile(ctx)
}

func (c *cluster) deleteAllOf(ctx context.Context, store client.WithWatch, obj client.Object, opts ...client.DeleteAllOfOption) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := store.DeleteAllOf(ctx, obj, opts...); err != nil {
		return err
	}
	return c.reconcile(ctx)
}

// labelNamespace gives a Namespace the kubernetes.io/metadata.name label
// that API servers set on every Namespace, and that allowedRoutes
// selectors of the suite rely on.
func (c *cluster) labelNamespace(obj client.Object) {
	gvk, err := apiutil.GVKForObject(obj, c.scheme)
	if err != nil || gvk.Group != "" || gvk.Kind != "Namespace" {
		return
	}
	labels := obj.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[corev1.LabelMetadataName] = obj.GetName()
	obj.SetLabels(labels)
}

// get returns the stored, typed version of obj.
func (c *cluster) get(ctx context.Context, obj client.Object) (client.Object, error) {
	gvk, err := apiutil.GVKForObject(obj, c.scheme)
	if err != nil {
		return nil, err
	}
	ro, err := c.scheme.New(gvk)
	if err != nil {
		return nil, err
	}
	cur, ok := ro.(client.Object)
	if !ok {
		return nil, fmt.Errorf("%s is not a client.Object", gvk)
	}
	if err := c.store.Get(ctx, client.ObjectKeyFromObject(obj), cur); err != nil {
		return nil, err
	}
	return cur, nil
}

// specChanged reports whether a and b differ in anything but metadata and
// status: what makes an API server bump metadata.generation.
func (c *cluster) specChanged(a, b client.Object) (bool, error) {
	ua, err := c.content(a)
	if err != nil {
		return false, err
	}
	ub, err := c.content(b)
	if err != nil {
		return false, err
	}
	return !reflect.DeepEqual(ua, ub), nil
}

// content returns obj's fields but metadata and status, in unstructured
// form, from its typed version so that a manifest and a stored object
// compare equal when they say the same.
func (c *cluster) content(obj client.Object) (map[string]any, error) {
	var typed runtime.Object = obj
	if u, ok := obj.(*unstructured.Unstructured); ok {
		ro, err := c.scheme.New(u.GroupVersionKind())
		if err != nil {
			return nil, err
		}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, ro); err != nil {
			return nil, err
		}
		typed = ro
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(typed)
	if err != nil {
		return nil, err
	}
	for _, k := range []string{"apiVersion", "kind", "metadata", "status"} {
		delete(m, k)
	}
	return m, nil
}

// reconcile does what the cluster's controllers do after a write: Pods for
// Deployments, the Router rebuilt from the Gateway API objects, the
// network following the Gateways, and status written back. The caller
// holds c.mu.
func (c *cluster) reconcile(ctx context.Context) error {
	var (
		classes     gatewayv1.GatewayClassList
		gateways    gatewayv1.GatewayList
		routes      gatewayv1.HTTPRouteList
		grpcRoutes  gatewayv1.GRPCRouteList
		sets        gatewayv1.ListenerSetList
		grants      gatewayv1.ReferenceGrantList
		namespaces  corev1.NamespaceList
		secrets     corev1.SecretList
		configMaps  corev1.ConfigMapList
		tlsPolicies gatewayv1.BackendTLSPolicyList
		services    corev1.ServiceList
		slices      discoveryv1.EndpointSliceList
		deployments appsv1.DeploymentList
	)
	for _, l := range []client.ObjectList{&classes, &gateways, &routes, &grpcRoutes, &sets, &grants, &namespaces, &secrets, &configMaps, &tlsPolicies, &services, &slices, &deployments} {
		if err := c.store.List(ctx, l); err != nil {
			return fmt.Errorf("reconcile: %w", err)
		}
	}
	if err := c.reconcileClasses(ctx, classes.Items); err != nil {
		return err
	}
	pods, err := c.reconcilePods(ctx, deployments.Items)
	if err != nil {
		return err
	}

	cfg := httproute.Config{
		GatewayClassName: gatewayClassName,
		ControllerName:   httproute.DefaultControllerName,
		Services:         c.backend.resolver(services.Items, slices.Items, pods),
		Logger:           c.logger,
	}
	var ours []*gatewayv1.Gateway
	for i := range gateways.Items {
		if gateways.Items[i].Spec.GatewayClassName == gatewayClassName {
			ours = append(ours, &gateways.Items[i])
		}
	}
	cfg.Gateways = ours
	for i := range routes.Items {
		cfg.HTTPRoutes = append(cfg.HTTPRoutes, &routes.Items[i])
	}
	for i := range grpcRoutes.Items {
		cfg.GRPCRoutes = append(cfg.GRPCRoutes, &grpcRoutes.Items[i])
	}
	for i := range sets.Items {
		cfg.ListenerSets = append(cfg.ListenerSets, &sets.Items[i])
	}
	for i := range grants.Items {
		cfg.ReferenceGrants = append(cfg.ReferenceGrants, &grants.Items[i])
	}
	for i := range namespaces.Items {
		cfg.Namespaces = append(cfg.Namespaces, &namespaces.Items[i])
	}
	for i := range secrets.Items {
		cfg.Secrets = append(cfg.Secrets, &secrets.Items[i])
	}
	for i := range configMaps.Items {
		cfg.ConfigMaps = append(cfg.ConfigMaps, &configMaps.Items[i])
	}
	for i := range tlsPolicies.Items {
		cfg.BackendTLSPolicies = append(cfg.BackendTLSPolicies, &tlsPolicies.Items[i])
	}
	if err := c.router.Update(cfg); err != nil {
		return fmt.Errorf("reconcile: Router.Update: %w", err)
	}
	if err := c.net.sync(c.router, ours); err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	if err := c.writeStatus(ctx, ours, routes.Items, grpcRoutes.Items, sets.Items); err != nil {
		return err
	}
	return c.writePolicyStatus(ctx, tlsPolicies.Items)
}

// writePolicyStatus writes the status the Router reports into the
// BackendTLSPolicies: its ancestors replace the harness controller's,
// and those of other controllers are kept as they are.
func (c *cluster) writePolicyStatus(ctx context.Context, policies []gatewayv1.BackendTLSPolicy) error {
	rs := c.router.Status()
	for i := range policies {
		p := &policies[i]
		next := rs.BackendTLSPolicies[client.ObjectKeyFromObject(p)]
		out := httproute.MergePolicyAncestors(p.Status.Ancestors, next.Ancestors, httproute.DefaultControllerName)
		if reflect.DeepEqual(p.Status.Ancestors, out) || (len(p.Status.Ancestors) == 0 && len(out) == 0) {
			continue
		}
		p.Status.Ancestors = out
		if err := c.store.Status().Update(ctx, p); err != nil {
			return fmt.Errorf("reconcile: BackendTLSPolicy %s status: %w", client.ObjectKeyFromObject(p), err)
		}
	}
	return nil
}

// podData returns the data of a Secret or ConfigMap, for the files of
// the Pods' volumes.
func (c *cluster) podData(kind, namespace, name string) (map[string][]byte, bool) {
	key := types.NamespacedName{Namespace: namespace, Name: name}
	switch kind {
	case "Secret":
		var s corev1.Secret
		if err := c.store.Get(context.Background(), key, &s); err != nil {
			return nil, false
		}
		return s.Data, true
	case "ConfigMap":
		var cm corev1.ConfigMap
		if err := c.store.Get(context.Background(), key, &cm); err != nil {
			return nil, false
		}
		return podnet.ConfigMapFiles(&cm), true
	default:
		return nil, false
	}
}

// reconcileClasses accepts the GatewayClasses of the Router's controller,
// as the controller would; the Router itself knows nothing of classes.
func (c *cluster) reconcileClasses(ctx context.Context, classes []gatewayv1.GatewayClass) error {
	for i := range classes {
		gwc := &classes[i]
		if gwc.Spec.ControllerName != httproute.DefaultControllerName {
			continue
		}
		st := httproute.GatewayClassStatus(gwc, time.Now())
		st.Conditions = httproute.MergeConditions(gwc.Status.Conditions, st.Conditions)
		if reflect.DeepEqual(gwc.Status, st) {
			continue
		}
		gwc.Status = st
		if err := c.store.Status().Update(ctx, gwc); err != nil {
			return fmt.Errorf("reconcile: GatewayClass %s status: %w", gwc.Name, err)
		}
	}
	return nil
}

// writeStatus writes the status the Router reports into the Gateways,
// HTTPRoutes, GRPCRoutes and ListenerSets, with the addresses the network
// gave the Gateways.
func (c *cluster) writeStatus(ctx context.Context, gateways []*gatewayv1.Gateway, routes []gatewayv1.HTTPRoute, grpcRoutes []gatewayv1.GRPCRoute, sets []gatewayv1.ListenerSet) error {
	rs := c.router.Status()
	for _, gw := range gateways {
		nn := types.NamespacedName{Namespace: gw.Namespace, Name: gw.Name}
		st, ok := rs.Gateways[nn]
		if !ok {
			continue
		}
		if len(st.Addresses) == 0 {
			st.Addresses = []gatewayv1.GatewayStatusAddress{{
				Type:  new(gatewayv1.IPAddressType),
				Value: c.net.address(nn),
			}}
		}
		st = httproute.MergeGatewayStatus(gw.Status, st)
		if reflect.DeepEqual(gw.Status, st) {
			continue
		}
		gw.Status = st
		if err := c.store.Status().Update(ctx, gw); err != nil {
			return fmt.Errorf("reconcile: Gateway %s status: %w", nn, err)
		}
	}
	for i := range routes {
		r := &routes[i]
		if err := c.writeRouteStatus(ctx, r, &r.Status.RouteStatus, rs.HTTPRoutes[client.ObjectKeyFromObject(r)].RouteStatus); err != nil {
			return err
		}
	}
	for i := range grpcRoutes {
		r := &grpcRoutes[i]
		if err := c.writeRouteStatus(ctx, r, &r.Status.RouteStatus, rs.GRPCRoutes[client.ObjectKeyFromObject(r)].RouteStatus); err != nil {
			return err
		}
	}
	for i := range sets {
		ls := &sets[i]
		nn := types.NamespacedName{Namespace: ls.Namespace, Name: ls.Name}
		st, ok := rs.ListenerSets[nn]
		if !ok {
			continue // its parent is not a Gateway of the harness's class
		}
		st = httproute.MergeListenerSetStatus(ls.Status, st)
		if reflect.DeepEqual(ls.Status, st) {
			continue
		}
		ls.Status = st
		if err := c.store.Status().Update(ctx, ls); err != nil {
			return fmt.Errorf("reconcile: ListenerSet %s status: %w", nn, err)
		}
	}
	return nil
}

// writeRouteStatus writes next, the status the Router reports, into a
// route whose status is cur, merged with the parents of other
// controllers.
func (c *cluster) writeRouteStatus(ctx context.Context, r client.Object, cur *gatewayv1.RouteStatus, next gatewayv1.RouteStatus) error {
	next.Parents = httproute.MergeRouteParents(cur.Parents, next.Parents, httproute.DefaultControllerName)
	if reflect.DeepEqual(*cur, next) || (len(cur.Parents) == 0 && len(next.Parents) == 0) {
		return nil
	}
	*cur = next
	if err := c.store.Status().Update(ctx, r); err != nil {
		return fmt.Errorf("reconcile: %T %s status: %w", r, client.ObjectKeyFromObject(r), err)
	}
	return nil
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	default:
		return 0
	}
}

// reconcilePods plays the Deployment and kubelet controllers: every
// replica of every Deployment is a Ready Pod with an IP and a running echo
// backend; Pods of Deployments that are gone or scaled down are deleted.
// It returns the running Pods.
func (c *cluster) reconcilePods(ctx context.Context, deployments []appsv1.Deployment) ([]*corev1.Pod, error) {
	want := map[types.NamespacedName]*corev1.Pod{}
	for i := range deployments {
		d := &deployments[i]
		replicas := int32(1)
		if d.Spec.Replicas != nil {
			replicas = *d.Spec.Replicas
		}
		for r := range replicas {
			p := podnet.ForDeployment(d, r)
			want[types.NamespacedName{Namespace: p.Namespace, Name: p.Name}] = p
		}
	}
	var running []*corev1.Pod
	for nn, p := range want {
		pod, err := c.backend.Ensure(p)
		if errors.Is(err, podnet.ErrVolumeNotReady) {
			continue // a kubelet waits for the Secret or ConfigMap too
		}
		if err != nil {
			return nil, fmt.Errorf("reconcile: pod %s: %w", nn, err)
		}
		if err := c.store.Get(ctx, nn, &corev1.Pod{}); apierrors.IsNotFound(err) {
			p.Status.PodIP = pod.IP
			p.Status.PodIPs = []corev1.PodIP{{IP: pod.IP}}
			if err := c.store.Create(ctx, p); err != nil {
				return nil, fmt.Errorf("reconcile: pod %s: %w", nn, err)
			}
		} else if err != nil {
			return nil, err
		}
		running = append(running, p)
	}
	for _, nn := range c.backend.Names() {
		if _, ok := want[nn]; ok {
			continue
		}
		c.backend.Stop(nn)
		err := c.store.Delete(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: nn.Namespace, Name: nn.Name}})
		if err != nil && !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("reconcile: pod %s: %w", nn, err)
		}
	}
	slices.SortFunc(running, func(a, b *corev1.Pod) int {
		return compareStrings(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	return running, nil
}

package conformance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/httproute/httproute/conformance/grpcecho"
	"github.com/httproute/httproute/endpointslice"
	"github.com/httproute/httproute/internal/podnet"
)

// The stand-ins' names.
const (
	nodeName = "loopback"
	// managedBy marks the EndpointSlices the stand-in writes, as the
	// endpoint-slice controller marks its own.
	managedBy = "podnet.httproute.test"
)

// node plays, against the real API server, the parts of a cluster that
// the suite's echo Deployments need and that the control plane alone does
// not do: the Deployment and ReplicaSet controllers (a Pod per replica),
// a kubelet (the Pod runs, as a podnet echo server, is marked Ready, is
// removed when deleted, and serves its log through the API server's
// pods/log), the endpoint-slice controller (an EndpointSlice of the
// ready Pods of each Service with a selector), and the namespace
// controller (the objects of a deleted Namespace are deleted, then the
// Namespace is finalized and goes).
type node struct {
	cs      kubernetes.Interface
	dyn     dynamic.Interface
	pods    *podnet.Pods
	kubelet *httptest.Server
	logger  *slog.Logger

	factory informers.SharedInformerFactory
	kick    chan struct{}
	cancel  context.CancelFunc
	done    chan struct{}

	mu  sync.Mutex
	err error // the last reconcile's
}

// startNode registers the Node and runs the stand-ins, as the
// administrator cfg authenticates, until close.
func startNode(ctx context.Context, cfg *rest.Config, logger *slog.Logger) (*node, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	n := &node{cs: cs, dyn: dyn, pods: podnet.New(logger), logger: logger, kick: make(chan struct{}, 1), done: make(chan struct{})}
	n.pods.GRPCEcho = grpcecho.Start
	n.pods.Data = n.volumeData
	n.kubelet = httptest.NewTLSServer(http.HandlerFunc(n.containerLogs))
	if err := n.register(ctx); err != nil {
		n.kubelet.Close()
		return nil, err
	}
	n.factory = informers.NewSharedInformerFactory(cs, 0)
	h := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { n.changed() },
		UpdateFunc: func(any, any) { n.changed() },
		DeleteFunc: func(any) { n.changed() },
	}
	for _, i := range []cache.SharedIndexInformer{
		n.factory.Apps().V1().Deployments().Informer(),
		n.factory.Core().V1().Pods().Informer(),
		n.factory.Core().V1().Services().Informer(),
		n.factory.Discovery().V1().EndpointSlices().Informer(),
		n.factory.Core().V1().Namespaces().Informer(),
		// The files of Pods' secret and configMap volumes (echo-basic's
		// TLS mode reads its certificates from them).
		n.factory.Core().V1().Secrets().Informer(),
		n.factory.Core().V1().ConfigMaps().Informer(),
	} {
		if _, err := i.AddEventHandler(h); err != nil {
			return nil, err
		}
	}
	runCtx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	n.factory.Start(runCtx.Done())
	n.factory.WaitForCacheSync(ctx.Done())
	go n.loop(runCtx)
	return n, nil
}

// register creates the Node whose kubelet endpoint is the stand-in's log
// server, on 127.0.0.1: the API server reaches it for pods/log.
func (n *node) register(ctx context.Context) error {
	_, p, err := net.SplitHostPort(n.kubelet.Listener.Addr().String())
	if err != nil {
		return err
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return err
	}
	nd, err := n.cs.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: nodeName}}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		nd, err = n.cs.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
	}
	if err != nil {
		return err
	}
	nd.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}}
	nd.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(port)
	nd.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
	_, err = n.cs.CoreV1().Nodes().UpdateStatus(ctx, nd, metav1.UpdateOptions{})
	return err
}

// containerLogs is the kubelet's /containerLogs/{namespace}/{pod}/{container}
// with the sinceTime parameter: the Pod's echo log.
func (n *node) containerLogs(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/containerLogs/"), "/")
	if !strings.HasPrefix(r.URL.Path, "/containerLogs/") || len(parts) != 3 {
		http.NotFound(w, r)
		return
	}
	var since time.Time
	if s := r.URL.Query().Get("sinceTime"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		since = t
	}
	log, err := n.pods.Logs(types.NamespacedName{Namespace: parts[0], Name: parts[1]}, parts[2], since)
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write(log)
}

func (n *node) changed() {
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

func (n *node) loop(ctx context.Context) {
	defer close(n.done)
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.kick:
		}
		err := n.reconcile(ctx)
		n.mu.Lock()
		n.err = err
		n.mu.Unlock()
		if err != nil && ctx.Err() == nil {
			n.logger.Warn("node stand-in", "err", err)
			time.AfterFunc(200*time.Millisecond, n.changed)
		}
	}
}

// close stops the stand-ins and every Pod's servers.
func (n *node) close() {
	n.cancel()
	<-n.done
	n.factory.Shutdown()
	n.pods.Close()
	n.kubelet.Close()
}

// reconcile does one pass of every stand-in controller.
func (n *node) reconcile(ctx context.Context) error {
	if err := n.reconcileNamespaces(ctx); err != nil {
		return err
	}
	if err := n.reconcilePods(ctx); err != nil {
		return err
	}
	return n.reconcileSlices(ctx)
}

// reconcileNamespaces finalizes the Namespaces being deleted, as the
// namespace controller does: it deletes every object of theirs of every
// namespaced resource that can be deleted in bulk, then removes the
// "kubernetes" finalizer, after which the API server removes the
// Namespace. Without it, a deleted Namespace stays Terminating for ever.
func (n *node) reconcileNamespaces(ctx context.Context) error {
	namespaces, err := n.factory.Core().V1().Namespaces().Lister().List(labels.Everything())
	if err != nil {
		return err
	}
	var resources []schema.GroupVersionResource
	for _, ns := range namespaces {
		if ns.DeletionTimestamp == nil || !slices.Contains(ns.Spec.Finalizers, corev1.FinalizerKubernetes) {
			continue
		}
		if resources == nil {
			if resources, err = n.deletableResources(); err != nil {
				return err
			}
		}
		for _, r := range resources {
			err := n.dyn.Resource(r).Namespace(ns.Name).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("namespace %s: deleting its %s: %w", ns.Name, r, err)
			}
		}
		fin := ns.DeepCopy()
		fin.Spec.Finalizers = slices.DeleteFunc(fin.Spec.Finalizers, func(f corev1.FinalizerName) bool { return f == corev1.FinalizerKubernetes })
		if _, err := n.cs.CoreV1().Namespaces().Finalize(ctx, fin, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("namespace %s: finalize: %w", ns.Name, err)
		}
	}
	return nil
}

// deletableResources returns the namespaced resources the API server
// serves that can be deleted by collection.
func (n *node) deletableResources() ([]schema.GroupVersionResource, error) {
	lists, err := n.cs.Discovery().ServerPreferredNamespacedResources()
	if err != nil {
		return nil, err
	}
	var out []schema.GroupVersionResource
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			return nil, err
		}
		for _, r := range l.APIResources {
			if slices.Contains(r.Verbs, "deletecollection") {
				out = append(out, gv.WithResource(r.Name))
			}
		}
	}
	return out, nil
}

// reconcilePods runs a Ready Pod for every replica of every Deployment and
// removes the Pods that are deleted or whose Deployment is gone.
func (n *node) reconcilePods(ctx context.Context) error {
	deployments, err := n.factory.Apps().V1().Deployments().Lister().List(labels.Everything())
	if err != nil {
		return err
	}
	want := map[types.NamespacedName]*corev1.Pod{}
	for _, d := range deployments {
		if d.DeletionTimestamp != nil {
			continue
		}
		for r := range replicas(d) {
			p := podnet.ForDeployment(d, r)
			want[types.NamespacedName{Namespace: p.Namespace, Name: p.Name}] = p
		}
	}
	podLister := n.factory.Core().V1().Pods().Lister()
	existing, err := podLister.List(labels.Everything())
	if err != nil {
		return err
	}
	zero := int64(0)
	for _, p := range existing {
		nn := types.NamespacedName{Namespace: p.Namespace, Name: p.Name}
		if _, ok := want[nn]; ok && p.DeletionTimestamp == nil {
			continue
		}
		// A kubelet stops a deleted Pod and confirms it is gone.
		n.pods.Stop(nn)
		err := n.cs.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete pod %s: %w", nn, err)
		}
	}
	for nn, p := range want {
		running, err := n.pods.Ensure(p)
		if errors.Is(err, podnet.ErrVolumeNotReady) {
			continue // a kubelet waits for the Secret or ConfigMap too
		}
		if err != nil {
			return fmt.Errorf("pod %s: %w", nn, err)
		}
		cur, err := podLister.Pods(nn.Namespace).Get(nn.Name)
		if apierrors.IsNotFound(err) {
			obj := p.DeepCopy()
			obj.UID, obj.CreationTimestamp, obj.Generation = "", metav1.Time{}, 0
			obj.Spec.NodeName = nodeName
			obj.Status = corev1.PodStatus{}
			if cur, err = n.cs.CoreV1().Pods(nn.Namespace).Create(ctx, obj, metav1.CreateOptions{}); err != nil {
				if apierrors.IsAlreadyExists(err) {
					continue // the cache is behind; the next pass sees it
				}
				return fmt.Errorf("create pod %s: %w", nn, err)
			}
		} else if err != nil {
			return err
		}
		if podnet.Ready(cur) && cur.Status.PodIP == running.IP {
			continue
		}
		st := p.Status.DeepCopy()
		st.PodIP, st.PodIPs = running.IP, []corev1.PodIP{{IP: running.IP}}
		upd := cur.DeepCopy()
		upd.Status = *st
		if _, err := n.cs.CoreV1().Pods(nn.Namespace).UpdateStatus(ctx, upd, metav1.UpdateOptions{}); err != nil && !apierrors.IsConflict(err) {
			return fmt.Errorf("pod %s status: %w", nn, err)
		}
	}
	return nil
}

// volumeData is podnet.Pods.Data: the data of a Secret or ConfigMap from
// the stand-in's caches.
func (n *node) volumeData(kind, namespace, name string) (map[string][]byte, bool) {
	switch kind {
	case "Secret":
		s, err := n.factory.Core().V1().Secrets().Lister().Secrets(namespace).Get(name)
		if err != nil {
			return nil, false
		}
		return s.Data, true
	case "ConfigMap":
		cm, err := n.factory.Core().V1().ConfigMaps().Lister().ConfigMaps(namespace).Get(name)
		if err != nil {
			return nil, false
		}
		return podnet.ConfigMapFiles(cm), true
	}
	return nil, false
}

func replicas(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return max(*d.Spec.Replicas, 0)
}

// reconcileSlices writes, for each Service with a selector, one
// EndpointSlice of its ready Pods, with the Service's ports resolved to
// the Pods' container ports; slices of Services that are gone are
// deleted.
func (n *node) reconcileSlices(ctx context.Context) error {
	services, err := n.factory.Core().V1().Services().Lister().List(labels.Everything())
	if err != nil {
		return err
	}
	sliceLister := n.factory.Discovery().V1().EndpointSlices().Lister()
	ours, err := sliceLister.List(labels.SelectorFromSet(labels.Set{discoveryv1.LabelManagedBy: managedBy}))
	if err != nil {
		return err
	}
	wanted := map[types.NamespacedName]bool{}
	for _, svc := range services {
		if len(svc.Spec.Selector) == 0 {
			continue
		}
		want, err := n.sliceFor(svc)
		if err != nil {
			return err
		}
		nn := types.NamespacedName{Namespace: want.Namespace, Name: want.Name}
		wanted[nn] = true
		cur, err := sliceLister.EndpointSlices(nn.Namespace).Get(nn.Name)
		switch {
		case apierrors.IsNotFound(err):
			_, err = n.cs.DiscoveryV1().EndpointSlices(nn.Namespace).Create(ctx, want, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				err = nil
			}
		case err != nil:
		case !equality.Semantic.DeepEqual(cur.Endpoints, want.Endpoints) || !equality.Semantic.DeepEqual(cur.Ports, want.Ports):
			upd := cur.DeepCopy()
			upd.Endpoints, upd.Ports = want.Endpoints, want.Ports
			_, err = n.cs.DiscoveryV1().EndpointSlices(nn.Namespace).Update(ctx, upd, metav1.UpdateOptions{})
			if apierrors.IsConflict(err) {
				err = nil
			}
		}
		if err != nil {
			return fmt.Errorf("endpointslice %s: %w", nn, err)
		}
	}
	for _, es := range ours {
		if !wanted[types.NamespacedName{Namespace: es.Namespace, Name: es.Name}] {
			err := n.cs.DiscoveryV1().EndpointSlices(es.Namespace).Delete(ctx, es.Name, metav1.DeleteOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				return err
			}
		}
	}
	return nil
}

// sliceFor returns the EndpointSlice of a Service: its ready Pods.
func (n *node) sliceFor(svc *corev1.Service) (*discoveryv1.EndpointSlice, error) {
	pods, err := n.factory.Core().V1().Pods().Lister().Pods(svc.Namespace).List(labels.SelectorFromSet(svc.Spec.Selector))
	if err != nil {
		return nil, err
	}
	es := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: svc.Namespace,
			Name:      svc.Name + "-podnet",
			Labels:    map[string]string{discoveryv1.LabelServiceName: svc.Name, discoveryv1.LabelManagedBy: managedBy},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{},
	}
	var ready []*corev1.Pod
	for _, p := range pods {
		if p.DeletionTimestamp == nil && podnet.Ready(p) && p.Status.PodIP != "" {
			ready = append(ready, p)
		}
	}
	slices.SortFunc(ready, func(a, b *corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	for _, sp := range svc.Spec.Ports {
		port := sp.TargetPort.IntVal
		if len(ready) > 0 {
			port = podnet.TargetPort(&sp, ready[0])
		}
		if port == 0 {
			continue
		}
		es.Ports = append(es.Ports, discoveryv1.EndpointPort{Name: new(sp.Name), Port: new(port), Protocol: new(sp.Protocol), AppProtocol: sp.AppProtocol})
	}
	for _, p := range ready {
		es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{p.Status.PodIP},
			Conditions: discoveryv1.EndpointConditions{Ready: new(true)},
			NodeName:   new(nodeName),
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: p.Namespace, Name: p.Name, UID: p.UID},
		})
	}
	return es, nil
}

// resolver returns the Services resolver of the controller under test:
// Upstreams that reach Pod IPs through the Pod network.
func (n *node) resolver() *endpointslice.Resolver {
	return &endpointslice.Resolver{DialContext: n.pods.DialContext}
}

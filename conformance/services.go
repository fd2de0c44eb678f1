package conformance

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/internal/echo"
)

// echo-basic's default ports, which its HTTP_PORT and H2C_PORT variables
// change.
const (
	echoHTTPPort = 3000
	echoH2CPort  = 3001
)

// backends runs the echo backends of the cluster's Pods, keeps their
// request logs, and resolves Services to them.
type backends struct {
	logger *slog.Logger

	mu   sync.Mutex
	pods map[types.NamespacedName]*pod
	byIP map[string]*pod
	// nextIP numbers the Pod IPs handed out. Pod IPs are names only: no
	// traffic is ever sent to them; each Pod's servers listen on
	// 127.0.0.1.
	nextIP int
	// upstreams are kept across Router rebuilds, keyed by Service port,
	// so that a Service's connections and round robin survive them.
	upstreams map[upstreamKey]*httproute.Upstream
}

type upstreamKey struct {
	service     httproute.ServicePort
	appProtocol string
}

// pod is a running Pod: an echo-basic look-alike listening on loopback.
type pod struct {
	nn        types.NamespacedName
	container string
	ip        string
	// servers are the Pod's listening ports, by the port number echo-basic
	// would listen on in the Pod.
	servers map[int32]*loopbackServer
	log     *podLog
}

func newBackends(logger *slog.Logger) *backends {
	return &backends{
		logger:    logger,
		pods:      map[types.NamespacedName]*pod{},
		byIP:      map[string]*pod{},
		upstreams: map[upstreamKey]*httproute.Upstream{},
	}
}

// ensurePod starts the backend of Pod p unless it runs already.
func (b *backends) ensurePod(p *corev1.Pod) (*pod, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	nn := types.NamespacedName{Namespace: p.Namespace, Name: p.Name}
	if running := b.pods[nn]; running != nil {
		return running, nil
	}
	b.nextIP++
	ip := fmt.Sprintf("127.244.%d.%d", b.nextIP/250, 1+b.nextIP%250)
	bp := &pod{nn: nn, ip: ip, servers: map[int32]*loopbackServer{}, log: &podLog{}}
	if len(p.Spec.Containers) > 0 {
		ct := &p.Spec.Containers[0]
		bp.container = ct.Name
		env := containerEnv(p, ct, ip)
		if err := bp.start(env, b.logger); err != nil {
			bp.stop()
			return nil, err
		}
	}
	b.pods[nn] = bp
	b.byIP[ip] = bp
	return bp, nil
}

// start runs echo-basic's HTTP and h2c ports, configured from the
// container's environment as echo-basic reads it. Containers that run
// echo-basic's gRPC, TCP or UDP echo instead get no server: the suite uses
// them only for GRPCRoute, TCPRoute and UDPRoute tests.
func (p *pod) start(env map[string]string, logger *slog.Logger) error {
	for _, other := range []string{"GRPC_ECHO_SERVER", "TCP_ECHO_SERVER", "UDP_ECHO_SERVER"} {
		if env[other] != "" {
			return nil
		}
	}
	httpPort, err := envPort(env, "HTTP_PORT", echoHTTPPort)
	if err != nil {
		return err
	}
	h2cPort, err := envPort(env, "H2C_PORT", echoH2CPort)
	if err != nil {
		return err
	}
	info := echo.Info{
		Namespace: env["NAMESPACE"],
		Ingress:   env["INGRESS_NAME"],
		Service:   env["SERVICE_NAME"],
		Pod:       env["POD_NAME"],
		HTTPPort:  strconv.Itoa(int(httpPort)),
		Log:       p.log,
	}
	s, err := startLoopback(echo.New(info), false, nil, logger)
	if err != nil {
		return err
	}
	p.servers[httpPort] = s
	s, err = startLoopback(echo.NewH2C(info), true, nil, logger)
	if err != nil {
		return err
	}
	p.servers[h2cPort] = s
	return nil
}

func (p *pod) stop() {
	for _, s := range p.servers {
		s.close()
	}
}

func envPort(env map[string]string, name string, def int32) (int32, error) {
	v := env[name]
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%s=%q: %w", name, v, err)
	}
	return int32(n), nil
}

// containerEnv returns the environment of a container as the kubelet
// would set it: literal values and the Pod fields the suite's manifests
// reference.
func containerEnv(p *corev1.Pod, ct *corev1.Container, ip string) map[string]string {
	env := map[string]string{}
	for _, e := range ct.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.FieldRef != nil:
			switch e.ValueFrom.FieldRef.FieldPath {
			case "metadata.name":
				env[e.Name] = p.Name
			case "metadata.namespace":
				env[e.Name] = p.Namespace
			case "status.podIP":
				env[e.Name] = ip
			default:
				env[e.Name] = ""
			}
		default:
			env[e.Name] = ""
		}
	}
	return env
}

// podNames returns the names of the running Pods.
func (b *backends) podNames() []types.NamespacedName {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []types.NamespacedName
	for nn := range b.pods {
		out = append(out, nn)
	}
	return out
}

// stopPod stops the backend of a Pod that was deleted.
func (b *backends) stopPod(nn types.NamespacedName) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if p := b.pods[nn]; p != nil {
		p.stop()
		delete(b.byIP, p.ip)
		delete(b.pods, nn)
	}
}

func (b *backends) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.pods {
		p.stop()
	}
	b.pods = map[types.NamespacedName]*pod{}
	b.byIP = map[string]*pod{}
}

// logs returns the log of a Pod's container, from the given time on (all
// of it when since is zero).
func (b *backends) logs(nn types.NamespacedName, container string, since time.Time) ([]byte, error) {
	b.mu.Lock()
	p := b.pods[nn]
	b.mu.Unlock()
	if p == nil {
		return nil, fmt.Errorf("pod %s is not running", nn)
	}
	if container != "" && container != p.container {
		return nil, fmt.Errorf("pod %s has no container %q", nn, container)
	}
	var out bytes.Buffer
	p.log.writeSince(&out, since)
	return out.Bytes(), nil
}

// podLog is a Pod's log: lines with the time they were written.
type podLog struct {
	mu    sync.Mutex
	lines []logLine
}

type logLine struct {
	at   time.Time
	text string
}

// Write records p, one line per newline-terminated line.
func (l *podLog) Write(p []byte) (int, error) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for line := range bytes.Lines(p) {
		l.lines = append(l.lines, logLine{at: now, text: string(bytes.TrimSuffix(line, []byte("\n")))})
	}
	return len(p), nil
}

func (l *podLog) writeSince(w io.Writer, since time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if !line.at.Before(since) {
			fmt.Fprintln(w, line.text)
		}
	}
}

// resolver returns the ServiceResolver of one Router build, over the
// cluster's Services, EndpointSlices and running Pods at that moment.
func (b *backends) resolver(services []corev1.Service, eps []discoveryv1.EndpointSlice, pods []*corev1.Pod) httproute.ServiceResolver {
	r := &serviceResolver{
		b:        b,
		services: map[types.NamespacedName]*corev1.Service{},
		slices:   map[types.NamespacedName][]*discoveryv1.EndpointSlice{},
		pods:     pods,
	}
	for i := range services {
		s := &services[i]
		r.services[types.NamespacedName{Namespace: s.Namespace, Name: s.Name}] = s
	}
	for i := range eps {
		s := &eps[i]
		if svc := s.Labels[discoveryv1.LabelServiceName]; svc != "" {
			nn := types.NamespacedName{Namespace: s.Namespace, Name: svc}
			r.slices[nn] = append(r.slices[nn], s)
		}
	}
	return r
}

// serviceResolver resolves a Service port to an Upstream over the echo
// servers of the Pods behind it: the Pods its selector picks or, for a
// Service without selector, the addresses of its EndpointSlices.
type serviceResolver struct {
	b        *backends
	services map[types.NamespacedName]*corev1.Service
	slices   map[types.NamespacedName][]*discoveryv1.EndpointSlice
	pods     []*corev1.Pod
}

func (r *serviceResolver) ResolveService(ref httproute.BackendRef) (httproute.Backend, error) {
	nn := types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}
	svc := r.services[nn]
	if svc == nil {
		return nil, fmt.Errorf("service %s: %w", nn, httproute.ErrNotFound)
	}
	i := slices.IndexFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Port == ref.Port })
	if i < 0 {
		return nil, fmt.Errorf("service %s has no port %d: %w", nn, ref.Port, httproute.ErrNotFound)
	}
	sp := &svc.Spec.Ports[i]
	appProtocol := ""
	if sp.AppProtocol != nil {
		appProtocol = *sp.AppProtocol
	}
	var endpoints []string
	if len(svc.Spec.Selector) > 0 {
		endpoints = r.selectorEndpoints(svc, sp)
	} else {
		endpoints = r.sliceEndpoints(svc, sp)
	}
	return r.b.upstream(upstreamKey{httproute.ServicePort{Namespace: nn.Namespace, Name: nn.Name, Port: ref.Port}, appProtocol}, endpoints)
}

// selectorEndpoints returns the loopback addresses serving port sp on the
// Ready Pods the Service's selector picks.
func (r *serviceResolver) selectorEndpoints(svc *corev1.Service, sp *corev1.ServicePort) []string {
	sel := labels.SelectorFromSet(svc.Spec.Selector)
	var out []string
	for _, p := range r.pods {
		if p.Namespace != svc.Namespace || !sel.Matches(labels.Set(p.Labels)) || !podReady(p) {
			continue
		}
		if addr := r.b.addr(types.NamespacedName{Namespace: p.Namespace, Name: p.Name}, targetPort(sp, p)); addr != "" {
			out = append(out, addr)
		}
	}
	return out
}

// sliceEndpoints returns the loopback addresses of the ready endpoints of
// the Service's EndpointSlices, on the slice port named like sp.
func (r *serviceResolver) sliceEndpoints(svc *corev1.Service, sp *corev1.ServicePort) []string {
	var out []string
	for _, s := range r.slices[types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}] {
		port := int32(0)
		for _, p := range s.Ports {
			name := ""
			if p.Name != nil {
				name = *p.Name
			}
			if name == sp.Name && p.Port != nil {
				port = *p.Port
			}
		}
		if port == 0 {
			continue
		}
		for _, ep := range s.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			for _, ip := range ep.Addresses {
				if addr := r.b.addrByIP(ip, port); addr != "" {
					out = append(out, addr)
				}
			}
		}
	}
	return out
}

// targetPort returns the container port a Service port sends to on Pod p.
func targetPort(sp *corev1.ServicePort, p *corev1.Pod) int32 {
	switch {
	case sp.TargetPort.Type == intstr.String && sp.TargetPort.StrVal != "":
		for _, ct := range p.Spec.Containers {
			for _, cp := range ct.Ports {
				if cp.Name == sp.TargetPort.StrVal {
					return cp.ContainerPort
				}
			}
		}
		return 0
	case sp.TargetPort.IntVal != 0:
		return sp.TargetPort.IntVal
	default:
		return sp.Port
	}
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// addr returns the loopback address of a Pod's server on port, or "" when
// the Pod listens on no such port.
func (b *backends) addr(nn types.NamespacedName, port int32) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if p := b.pods[nn]; p != nil && p.servers[port] != nil {
		return p.servers[port].addr
	}
	return ""
}

func (b *backends) addrByIP(ip string, port int32) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if p := b.byIP[ip]; p != nil && p.servers[port] != nil {
		return p.servers[port].addr
	}
	return ""
}

// upstream returns the Upstream of a Service port with its endpoints set
// to eps, creating it the first time. An appProtocol the library does not
// serve fails here, with an error wrapping httproute.ErrUnsupported.
func (b *backends) upstream(key upstreamKey, eps []string) (httproute.Backend, error) {
	slices.Sort(eps)
	b.mu.Lock()
	defer b.mu.Unlock()
	if u := b.upstreams[key]; u != nil {
		if err := u.SetEndpoints(eps); err != nil {
			return nil, err
		}
		return u, nil
	}
	u, err := httproute.NewUpstream(httproute.UpstreamConfig{Endpoints: eps, AppProtocol: key.appProtocol})
	if err != nil {
		return nil, err
	}
	b.upstreams[key] = u
	return u, nil
}

// loopbackServer is an HTTP server on an ephemeral port of 127.0.0.1.
type loopbackServer struct {
	addr string
	srv  *http.Server
}

// startLoopback serves h on 127.0.0.1. h2c enables HTTP/2 with prior
// knowledge next to HTTP/1.1; tlsConfig, when set, serves HTTPS (with
// HTTP/2 offered through ALPN).
func startLoopback(h http.Handler, h2c bool, tlsConfig *tls.Config, logger *slog.Logger) (*loopbackServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(slogWriter{logger}, "", 0),
	}
	if h2c {
		srv.Protocols = new(http.Protocols)
		srv.Protocols.SetHTTP1(true)
		srv.Protocols.SetUnencryptedHTTP2(true)
	}
	if tlsConfig != nil {
		srv.TLSConfig = tlsConfig
		go func() { _ = srv.ServeTLS(ln, "", "") }()
	} else {
		go func() { _ = srv.Serve(ln) }()
	}
	return &loopbackServer{addr: ln.Addr().String(), srv: srv}, nil
}

func (s *loopbackServer) close() { _ = s.srv.Close() }

// slogWriter turns http.Server's error log into debug records.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Debug(string(bytes.TrimSpace(p)))
	return len(p), nil
}

// Package podnet plays, for tests, what a kubelet and a Pod network do for
// the Deployments of the Gateway API conformance suite: every replica is a
// Ready Pod with an IP of its own, running an echo-basic look-alike
// (internal/echo) configured from the container's environment, with its
// request log kept as the Pod's log.
//
// Pod IPs are names only: the Pods' servers listen on ephemeral ports of
// 127.0.0.1, and DialContext maps "podIP:containerPort" to them. No
// traffic is ever sent to a Pod IP.
package podnet

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/httproute/httproute/internal/echo"
)

// echo-basic's default ports, which its HTTP_PORT and H2C_PORT variables
// change.
const (
	EchoHTTPPort = 3000
	EchoH2CPort  = 3001
)

// Pods are the running Pods. The zero value is not usable; use New.
type Pods struct {
	logger *slog.Logger
	// GRPCEcho, when set, starts the gRPC echo server of a container that
	// runs echo-basic's gRPC mode (GRPC_ECHO_SERVER set), answering as
	// info says, over TLS with tlsConfig when it is not nil; it is set by
	// the caller, which brings the gRPC implementation. Nil runs no server
	// for such containers.
	GRPCEcho func(info echo.Info, tlsConfig *tls.Config) (*Server, error)
	// Data, when set, returns the data of the Secret or ConfigMap (kind)
	// namespace/name and whether it exists: the files of the containers'
	// secret and configMap volumes, which echo-basic's TLS mode reads
	// its certificates from. A Pod whose volume is missing does not start
	// (Ensure fails with ErrVolumeNotReady) until it exists.
	Data func(kind, namespace, name string) (map[string][]byte, bool)

	mu   sync.Mutex
	pods map[types.NamespacedName]*Pod
	byIP map[string]*Pod
	// nextIP numbers the Pod IPs handed out, from 198.18.0.1 on (the
	// benchmarking range of RFC 2544, which no test network uses).
	nextIP int
}

// Pod is a running Pod: an echo-basic look-alike listening on loopback.
type Pod struct {
	Name      types.NamespacedName
	Container string
	IP        string
	// servers are the Pod's listening ports, by the port number echo-basic
	// would listen on in the Pod.
	servers map[int32]*Server
	log     *podLog
}

// New returns an empty set of Pods that logs servers' errors to logger.
func New(logger *slog.Logger) *Pods {
	return &Pods{
		logger: logger,
		pods:   map[types.NamespacedName]*Pod{},
		byIP:   map[string]*Pod{},
	}
}

// Ensure starts the servers of Pod p unless it runs already, and returns
// the running Pod with its IP.
func (ps *Pods) Ensure(p *corev1.Pod) (*Pod, error) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	nn := types.NamespacedName{Namespace: p.Namespace, Name: p.Name}
	if running := ps.pods[nn]; running != nil {
		return running, nil
	}
	ps.nextIP++
	ip := fmt.Sprintf("198.%d.%d.%d", 18+ps.nextIP/(250*256), ps.nextIP/250%256, 1+ps.nextIP%250)
	bp := &Pod{Name: nn, IP: ip, servers: map[int32]*Server{}, log: &podLog{}}
	if len(p.Spec.Containers) > 0 {
		ct := &p.Spec.Containers[0]
		bp.Container = ct.Name
		env := containerEnv(p, ct, ip)
		read := func(path string) ([]byte, error) { return ps.readFile(p, ct, path) }
		if err := bp.start(env, read, ps.logger, ps.GRPCEcho); err != nil {
			bp.stop()
			return nil, err
		}
	}
	ps.pods[nn] = bp
	ps.byIP[ip] = bp
	return bp, nil
}

// start runs echo-basic's HTTP and h2c ports, configured from the
// container's environment as echo-basic reads it, or in its gRPC mode the
// gRPC echo on HTTP_PORT, started by grpcEcho. Containers that run
// echo-basic's TCP or UDP echo instead get no server: the suite uses them
// only for TCPRoute and UDPRoute tests.
//
// With TLS_SERVER_CERT and TLS_SERVER_PRIVKEY (TLS_SERVER_PRIV_KEY in the
// gRPC mode) naming files of the container's volumes, read with read, it
// also serves HTTPS_PORT over TLS as echo-basic does, verifying the
// client certificates that TLS_CLIENT_CACERTS's CAs signed when given.
func (p *Pod) start(env map[string]string, read func(path string) ([]byte, error), logger *slog.Logger, grpcEcho func(echo.Info, *tls.Config) (*Server, error)) error {
	for _, other := range []string{"TCP_ECHO_SERVER", "UDP_ECHO_SERVER"} {
		if env[other] != "" {
			return nil
		}
	}
	grpcMode := env["GRPC_ECHO_SERVER"] != ""
	tlsConfig, err := echoTLS(env, grpcMode, read)
	if err != nil {
		return err
	}
	httpsPort, err := envPort(env, "HTTPS_PORT", echo.EchoHTTPSPort)
	if err != nil {
		return err
	}
	httpPort, err := envPort(env, "HTTP_PORT", EchoHTTPPort)
	if err != nil {
		return err
	}
	h2cPort, err := envPort(env, "H2C_PORT", EchoH2CPort)
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
	if grpcMode {
		if grpcEcho == nil {
			return nil
		}
		s, err := grpcEcho(info, nil)
		if err != nil {
			return err
		}
		p.servers[httpPort] = s
		if tlsConfig != nil {
			if s, err = grpcEcho(info, tlsConfig); err != nil {
				return err
			}
			p.servers[httpsPort] = s
		}
		return nil
	}
	if tlsConfig != nil {
		s, err := StartServer(echo.New(info), false, tlsConfig, logger)
		if err != nil {
			return err
		}
		p.servers[httpsPort] = s
	}
	s, err := StartServer(echo.New(info), false, nil, logger)
	if err != nil {
		return err
	}
	p.servers[httpPort] = s
	s, err = StartServer(echo.NewH2C(info), true, nil, logger)
	if err != nil {
		return err
	}
	p.servers[h2cPort] = s
	return nil
}

// echoTLS returns the TLS configuration of echo-basic's HTTPS port from
// the container's environment, nil when it serves none.
func echoTLS(env map[string]string, grpcMode bool, read func(string) ([]byte, error)) (*tls.Config, error) {
	certPath, keyPath := env["TLS_SERVER_CERT"], env["TLS_SERVER_PRIVKEY"]
	if grpcMode {
		keyPath = env["TLS_SERVER_PRIV_KEY"]
	}
	if certPath == "" || keyPath == "" {
		return nil, nil
	}
	cert, err := read(certPath)
	if err != nil {
		return nil, err
	}
	key, err := read(keyPath)
	if err != nil {
		return nil, err
	}
	var cas []byte
	if path := env["TLS_CLIENT_CACERTS"]; path != "" && !grpcMode {
		if cas, err = read(path); err != nil {
			return nil, err
		}
	}
	return echo.ServerTLSConfig(cert, key, cas)
}

// ConfigMapFiles returns the files of a configMap volume of cm, for
// Pods.Data: its data and its binary data, by key.
func ConfigMapFiles(cm *corev1.ConfigMap) map[string][]byte {
	out := make(map[string][]byte, len(cm.Data)+len(cm.BinaryData))
	for k, v := range cm.Data {
		out[k] = []byte(v)
	}
	maps.Copy(out, cm.BinaryData)
	return out
}

// ErrVolumeNotReady is the error of a Pod whose volumes cannot be read
// yet: the Secret or ConfigMap they project does not exist.
var ErrVolumeNotReady = errors.New("podnet: volume not ready")

// readFile returns the content of the file at path in container ct of
// Pod p: a key of the Secret or ConfigMap of the volume mounted there.
func (ps *Pods) readFile(p *corev1.Pod, ct *corev1.Container, path string) ([]byte, error) {
	for _, m := range ct.VolumeMounts {
		rel, ok := strings.CutPrefix(path, strings.TrimSuffix(m.MountPath, "/")+"/")
		if !ok {
			continue
		}
		for _, v := range p.Spec.Volumes {
			if v.Name != m.Name {
				continue
			}
			kind, name, items := "", "", []corev1.KeyToPath(nil)
			switch {
			case v.Secret != nil:
				kind, name, items = "Secret", v.Secret.SecretName, v.Secret.Items
			case v.ConfigMap != nil:
				kind, name, items = "ConfigMap", v.ConfigMap.Name, v.ConfigMap.Items
			default:
				return nil, fmt.Errorf("podnet: %s: volume %s is neither a Secret nor a ConfigMap", path, v.Name)
			}
			key := rel
			for _, it := range items {
				if it.Path == rel {
					key = it.Key
				}
			}
			if ps.Data == nil {
				return nil, fmt.Errorf("%w: %s %s/%s: no data source", ErrVolumeNotReady, kind, p.Namespace, name)
			}
			data, ok := ps.Data(kind, p.Namespace, name)
			if !ok {
				return nil, fmt.Errorf("%w: %s %s/%s not found", ErrVolumeNotReady, kind, p.Namespace, name)
			}
			b, ok := data[key]
			if !ok {
				return nil, fmt.Errorf("%w: %s %s/%s has no key %s", ErrVolumeNotReady, kind, p.Namespace, name, key)
			}
			return b, nil
		}
	}
	return nil, fmt.Errorf("podnet: %s: no volume mounted there", path)
}

func (p *Pod) stop() {
	for _, s := range p.servers {
		s.Close()
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

// Names returns the names of the running Pods.
func (ps *Pods) Names() []types.NamespacedName {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	var out []types.NamespacedName
	for nn := range ps.pods {
		out = append(out, nn)
	}
	return out
}

// Stop stops the servers of a Pod that was deleted.
func (ps *Pods) Stop(nn types.NamespacedName) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if p := ps.pods[nn]; p != nil {
		p.stop()
		delete(ps.byIP, p.IP)
		delete(ps.pods, nn)
	}
}

// Close stops every Pod.
func (ps *Pods) Close() {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for _, p := range ps.pods {
		p.stop()
	}
	ps.pods = map[types.NamespacedName]*Pod{}
	ps.byIP = map[string]*Pod{}
}

// Logs returns the log of a Pod's container, from the given time on (all
// of it when since is zero).
func (ps *Pods) Logs(nn types.NamespacedName, container string, since time.Time) ([]byte, error) {
	ps.mu.Lock()
	p := ps.pods[nn]
	ps.mu.Unlock()
	if p == nil {
		return nil, fmt.Errorf("pod %s is not running", nn)
	}
	if container != "" && container != p.Container {
		return nil, fmt.Errorf("pod %s has no container %q", nn, container)
	}
	var out bytes.Buffer
	p.log.writeSince(&out, since)
	return out.Bytes(), nil
}

// Addr returns the loopback address of a Pod's server on port, or "" when
// the Pod listens on no such port.
func (ps *Pods) Addr(nn types.NamespacedName, port int32) string {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if p := ps.pods[nn]; p != nil && p.servers[port] != nil {
		return p.servers[port].Addr
	}
	return ""
}

// AddrByIP returns the loopback address of the server of the Pod with IP
// ip on port, or "" when there is none.
func (ps *Pods) AddrByIP(ip string, port int32) string {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if p := ps.byIP[ip]; p != nil && p.servers[port] != nil {
		return p.servers[port].Addr
	}
	return ""
}

// DialContext connects to "podIP:port" as the Pod network would: to the
// loopback server of that Pod's port. Any other address is refused, so
// that no traffic leaves the machine.
func (ps *Pods) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseInt(p, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("podnet: %s: %w", addr, err)
	}
	target := ps.AddrByIP(host, int32(port))
	if target == "" {
		return nil, &net.OpError{Op: "dial", Net: network, Err: fmt.Errorf("podnet: no Pod listens on %s: connection refused", addr)}
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", target)
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

// ForDeployment returns the Pod of replica r of Deployment d, named as the
// ReplicaSet controller would (the Deployment's name, a template hash and
// a replica suffix), Running and Ready.
func ForDeployment(d *appsv1.Deployment, r int32) *corev1.Pod {
	tmplHash := shortHash(d.Namespace+"/"+d.Name, 10)
	name := fmt.Sprintf("%s-%s-%s", d.Name, tmplHash, shortHash(fmt.Sprintf("%s/%s/%d", d.Namespace, d.Name, r), 5))
	labels := map[string]string{"pod-template-hash": tmplHash}
	for k, v := range d.Spec.Template.Labels {
		labels[k] = v
	}
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:         d.Namespace,
			Name:              name,
			Labels:            labels,
			UID:               newUID(),
			Generation:        1,
			CreationTimestamp: now,
		},
		Spec: *d.Spec.Template.Spec.DeepCopy(),
		Status: corev1.PodStatus{
			Phase:     corev1.PodRunning,
			HostIP:    "127.0.0.1",
			StartTime: &now,
			Conditions: []corev1.PodCondition{
				{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
				{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
			},
		},
	}
}

// newUID returns a random UID in the form of a version 4 UUID.
func newUID() types.UID {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return types.UID(fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:]))
}

// shortHash returns n characters derived from s, in the alphabet
// Kubernetes uses for generated names.
func shortHash(s string, n int) string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	v := h.Sum64()
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[v%uint64(len(alphabet))]
		v /= uint64(len(alphabet))
	}
	return string(b)
}

// Ready reports whether a Pod's Ready condition is true.
func Ready(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// TargetPort returns the container port a Service port sends to on Pod p,
// 0 when a named target port names no port of the Pod.
func TargetPort(sp *corev1.ServicePort, p *corev1.Pod) int32 {
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

// Server is a server on a loopback address.
type Server struct {
	Addr  string
	close func() error
}

// NewServer returns the Server of a server that the caller started on
// addr, which close stops.
func NewServer(addr string, close func() error) *Server { return &Server{Addr: addr, close: close} }

// StartServer serves h on an ephemeral port of 127.0.0.1. h2c enables
// HTTP/2 with prior knowledge next to HTTP/1.1; tlsConfig, when set,
// serves HTTPS (with HTTP/2 offered through ALPN). Server errors are
// logged at debug level.
func StartServer(h http.Handler, h2c bool, tlsConfig *tls.Config, logger *slog.Logger) (*Server, error) {
	return StartServerAt("127.0.0.1:0", h, h2c, tlsConfig, logger)
}

// StartServerAt is StartServer on the local address addr.
func StartServerAt(addr string, h http.Handler, h2c bool, tlsConfig *tls.Config, logger *slog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
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
	return &Server{Addr: ln.Addr().String(), close: srv.Close}, nil
}

// Close closes the server and its connections.
func (s *Server) Close() { _ = s.close() }

// slogWriter turns http.Server's error log into debug records.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Debug(string(bytes.TrimSpace(p)))
	return len(p), nil
}

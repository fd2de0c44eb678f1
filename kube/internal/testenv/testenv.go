// Package testenv runs a real Kubernetes control plane for tests: etcd and
// kube-apiserver, built from their Go modules by hack/kube-testenv.sh,
// listening on loopback ports only, with token authentication and RBAC,
// and the Gateway API experimental-channel CRDs installed.
//
// There is no controller manager, scheduler or kubelet: objects stay as
// clients write them (no Pods for Deployments, no EndpointSlices for
// Services, no namespace finalization). Tests play those parts where they
// need them.
package testenv

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensions "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"
)

// ControllerUser is the user name the Env's controller token
// authenticates as: the name a ServiceAccount httproute-system/httproute
// has, so that kube/deploy's ClusterRoleBinding (whose subject is that
// ServiceAccount) grants it exactly what it grants in a cluster.
const ControllerUser = "system:serviceaccount:httproute-system:httproute"

// Env is a running control plane.
type Env struct {
	// Admin is a client configuration of a cluster administrator (group
	// system:masters).
	Admin *rest.Config
	// Controller is a client configuration of ControllerUser, which has
	// no permissions until a test binds it a role.
	Controller *rest.Config
	// Versions of the running binaries, as they report them.
	APIServerVersion, EtcdVersion string

	dir   string
	procs []*exec.Cmd
	done  []chan error
}

// Logger is what Start logs to; *testing.T and *testing.B satisfy it.
type Logger interface {
	Logf(format string, args ...any)
}

// Start builds (or reuses) the binaries, starts etcd and kube-apiserver
// in dir and installs the CRDs of crdDir. Close stops them.
func Start(ctx context.Context, dir, crdDir string, log Logger) (env *Env, err error) {
	bin, err := binaries(ctx)
	if err != nil {
		return nil, err
	}
	env = &Env{dir: dir}
	defer func() {
		if err != nil {
			env.Close()
		}
	}()
	etcdURL, err := env.startEtcd(ctx, bin)
	if err != nil {
		return nil, err
	}
	if err := env.startAPIServer(ctx, bin, etcdURL); err != nil {
		return nil, err
	}
	if err := installCRDs(ctx, env.Admin, crdDir); err != nil {
		return nil, err
	}
	log.Logf("testenv: kube-apiserver %s, etcd %s, CRDs of %s", env.APIServerVersion, env.EtcdVersion, crdDir)
	return env, nil
}

// binaries returns the directory of kube-apiserver and etcd: the one
// KUBE_TESTENV_BIN names, or the cache hack/kube-testenv.sh fills.
func binaries(ctx context.Context) (string, error) {
	dir := os.Getenv("KUBE_TESTENV_BIN")
	if dir == "" {
		root, err := repoRoot()
		if err != nil {
			return "", err
		}
		cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "hack", "kube-testenv.sh"))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return "", fmt.Errorf("testenv: hack/kube-testenv.sh: %w\n%s", err, stderr.Bytes())
		}
		dir = strings.TrimSpace(string(out))
	}
	// Stat the binaries: go test then keys its cached results on them
	// too, and a rebuilt control plane reruns the tests.
	for _, name := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return "", fmt.Errorf("testenv: %w", err)
		}
	}
	return dir, nil
}

// repoRoot returns the repository's root: the first parent of the working
// directory that has hack/kube-testenv.sh.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "hack", "kube-testenv.sh")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("testenv: no hack/kube-testenv.sh above the working directory")
		}
		dir = parent
	}
}

// CRDDir returns the directory of the Gateway API experimental-channel
// CRDs that the repository vendors for its validation package.
func CRDDir() (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "validation", "crds", "experimental"), nil
}

// freePorts returns n distinct free TCP ports of 127.0.0.1.
func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	var out []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

// start runs a binary with its output in dir/name.log.
func (e *Env) start(name string, args ...string) error {
	logf, err := os.Create(filepath.Join(e.dir, name+".log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group, so that a signal to the test's group (^C)
	// does not race Close.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("testenv: start %s: %w", name, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait(); logf.Close() }()
	e.procs = append(e.procs, cmd)
	e.done = append(e.done, done)
	return nil
}

// logTail returns the end of a binary's log, for error messages.
func (e *Env) logTail(name string) string {
	b, _ := os.ReadFile(filepath.Join(e.dir, name+".log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

func (e *Env) startEtcd(ctx context.Context, bin string) (string, error) {
	ports, err := freePorts(2)
	if err != nil {
		return "", err
	}
	client := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	peer := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	err = e.start("etcd", filepath.Join(bin, "etcd"),
		"--name=default",
		"--data-dir="+filepath.Join(e.dir, "etcd"),
		"--listen-client-urls="+client, "--advertise-client-urls="+client,
		"--listen-peer-urls="+peer, "--initial-advertise-peer-urls="+peer,
		"--initial-cluster=default="+peer,
		// A test cluster: no fsync, and a small log.
		"--unsafe-no-fsync", "--log-level=warn",
	)
	if err != nil {
		return "", err
	}
	var v struct {
		Server string `json:"etcdserver"`
	}
	err = poll(ctx, 30*time.Second, func() error {
		resp, err := http.Get(client + "/version")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		return json.NewDecoder(resp.Body).Decode(&v)
	})
	if err != nil {
		return "", fmt.Errorf("testenv: etcd did not start: %w\n%s", err, e.logTail("etcd"))
	}
	e.EtcdVersion = "v" + v.Server
	return client, nil
}

func (e *Env) startAPIServer(ctx context.Context, bin, etcdURL string) error {
	ports, err := freePorts(1)
	if err != nil {
		return err
	}
	adminToken, controllerToken := randomToken(), randomToken()
	tokens := fmt.Sprintf("%s,admin,admin,\"system:masters\"\n%s,%s,httproute,\"system:serviceaccounts,system:serviceaccounts:httproute-system\"\n",
		adminToken, controllerToken, ControllerUser)
	tokenFile := filepath.Join(e.dir, "tokens.csv")
	if err := os.WriteFile(tokenFile, []byte(tokens), 0o600); err != nil {
		return err
	}
	saKey := filepath.Join(e.dir, "sa.key")
	if err := writeRSAKey(saKey); err != nil {
		return err
	}
	certDir := filepath.Join(e.dir, "certs")
	err = e.start("kube-apiserver", filepath.Join(bin, "kube-apiserver"),
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", ports[0]),
		"--cert-dir="+certDir,
		"--token-auth-file="+tokenFile,
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file="+saKey,
		"--service-account-signing-key-file="+saKey,
		"--service-cluster-ip-range=10.0.0.0/24",
		// No controller manager creates the default ServiceAccounts Pods
		// would need, and no Service "kubernetes" endpoints are kept.
		"--disable-admission-plugins=ServiceAccount",
		"--endpoint-reconciler-type=none",
		"--profiling=false",
		"-v=0",
	)
	if err != nil {
		return err
	}
	host := fmt.Sprintf("https://127.0.0.1:%d", ports[0])
	cfg := func(token string) *rest.Config {
		return &rest.Config{
			Host:            host,
			BearerToken:     token,
			TLSClientConfig: rest.TLSClientConfig{Insecure: true}, // a self-signed certificate on loopback
			// Tests write thousands of objects; the client's default
			// 5 requests a second would make them wait, not the server.
			QPS: 1000, Burst: 2000,
		}
	}
	e.Admin, e.Controller = cfg(adminToken), cfg(controllerToken)
	cs, err := kubernetes.NewForConfig(e.Admin)
	if err != nil {
		return err
	}
	err = poll(ctx, 60*time.Second, func() error {
		body, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err != nil {
			return fmt.Errorf("%w: %s", err, body)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("testenv: kube-apiserver did not become ready: %w\n%s", err, e.logTail("kube-apiserver"))
	}
	v, err := cs.Discovery().ServerVersion()
	if err != nil {
		return err
	}
	e.APIServerVersion = v.GitVersion
	return nil
}

func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// writeRSAKey writes a new RSA key, the service account signing key.
func writeRSAKey(path string) error {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	der := x509.MarshalPKCS1PrivateKey(k)
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: der}), 0o600)
}

// installCRDs creates the CRDs of the YAML files in dir and waits until
// the API server serves them.
func installCRDs(ctx context.Context, cfg *rest.Config, dir string) error {
	cs, err := apiextensions.NewForConfig(cfg)
	if err != nil {
		return err
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("testenv: no CRDs in %s", dir)
	}
	var names []string
	for _, f := range files {
		crds, err := readCRDs(f)
		if err != nil {
			return err
		}
		for _, crd := range crds {
			if err := CreateCRD(ctx, cs, crd); err != nil {
				return err
			}
			names = append(names, crd.Name)
		}
	}
	for _, name := range names {
		if err := WaitEstablished(ctx, cs, name); err != nil {
			return err
		}
	}
	return nil
}

// readCRDs returns the CustomResourceDefinitions of a YAML file.
func readCRDs(path string) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []*apiextensionsv1.CustomResourceDefinition
	r := utilyaml.NewYAMLReader(bufio.NewReader(f))
	for {
		doc, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.Unmarshal(doc, &crd); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if crd.Kind == "CustomResourceDefinition" {
			out = append(out, &crd)
		}
	}
}

// CreateCRD creates a CRD; one that exists already is left as it is.
func CreateCRD(ctx context.Context, cs apiextensions.Interface, crd *apiextensionsv1.CustomResourceDefinition) error {
	_, err := cs.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, crd, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("testenv: create CRD %s: %w", crd.Name, err)
	}
	return nil
}

// WaitEstablished waits until the API server serves a CRD's kinds.
func WaitEstablished(ctx context.Context, cs apiextensions.Interface, name string) error {
	err := poll(ctx, 30*time.Second, func() error {
		crd, err := cs.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, c := range crd.Status.Conditions {
			if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
				return nil
			}
		}
		return fmt.Errorf("CRD %s is not established", name)
	})
	if err != nil {
		return fmt.Errorf("testenv: %w", err)
	}
	return nil
}

// poll calls f every 100ms until it succeeds or timeout passes, and
// returns its last error then.
func poll(ctx context.Context, timeout time.Duration, f func() error) error {
	var last error
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		last = f()
		return last == nil, nil
	})
	if err != nil && last != nil {
		return last
	}
	return err
}

// Close stops kube-apiserver, then etcd, and waits until both have exited.
func (e *Env) Close() {
	for i := len(e.procs) - 1; i >= 0; i-- {
		_ = e.procs[i].Process.Signal(syscall.SIGTERM)
		select {
		case <-e.done[i]:
		case <-time.After(15 * time.Second):
			_ = e.procs[i].Process.Kill()
			<-e.done[i]
		}
	}
	e.procs, e.done = nil, nil
}

// Main is a test binary's TestMain: it starts an Env in a temporary
// directory, stores it in *env, applies the objects of the YAML files
// (the RBAC the tests run with), runs the tests and stops the Env. It
// returns the exit code.
func Main(m *testing.M, env **Env, files ...string) int {
	dir, err := os.MkdirTemp("", "kube-testenv-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	crds, err := CRDDir()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx := context.Background()
	e, err := Start(ctx, dir, crds, stderrLogger{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer e.Close()
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err == nil {
			err = Apply(ctx, e.Admin, data)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "testenv: %s: %v\n", f, err)
			return 1
		}
	}
	*env = e
	return m.Run()
}

type stderrLogger struct{}

func (stderrLogger) Logf(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }

// Apply applies the objects of a YAML stream with server-side apply, as
// kubectl apply --server-side would.
func Apply(ctx context.Context, cfg *rest.Config, data []byte) error {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	r := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var u unstructured.Unstructured
		if err := r.Decode(&u.Object); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		if len(u.Object) == 0 {
			continue
		}
		gvk := u.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return fmt.Errorf("%s: %w", gvk, err)
		}
		body, err := u.MarshalJSON()
		if err != nil {
			return err
		}
		force := true
		_, err = dyn.Resource(m.Resource).Namespace(u.GetNamespace()).Patch(ctx, u.GetName(), types.ApplyPatchType, body,
			metav1.PatchOptions{FieldManager: "testenv", Force: &force})
		if err != nil {
			return fmt.Errorf("apply %s %s: %w", gvk.Kind, u.GetName(), err)
		}
	}
}

package kube

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/httproute/httproute"
)

// TestRun runs what the binary runs, from a kubeconfig file: the
// Gateway's listener port is served on 127.0.0.1 from the whole Router,
// /readyz turns 200 once the Controller is ready, and the Gateway's status
// carries the configured address.
func TestRun(t *testing.T) {
	ctx := context.Background()
	c := adminClients(t)
	ns, class := unique("run"), unique("run")
	ports := freePorts(t, 2)
	c.namespace(t, ns)
	c.class(t, class, httproute.DefaultControllerName)
	c.gatewayObj(t, ns, "gw", class, int32(ports[0]))
	c.backend(t, ns, "web")
	c.route(t, ns, "r", "gw", "/", "web")

	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["test"] = &clientcmdapi.Cluster{Server: env.Controller.Host, InsecureSkipTLSVerify: true}
	cfg.AuthInfos["httproute"] = &clientcmdapi.AuthInfo{Token: env.Controller.BearerToken}
	cfg.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "httproute"}
	cfg.CurrentContext = "test"
	if err := clientcmd.WriteToFile(*cfg, kubeconfig); err != nil {
		t.Fatal(err)
	}

	opts := testOptions(t, class)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- Run(runCtx, RunConfig{
			Kubeconfig:       kubeconfig,
			Options:          opts,
			Host:             "127.0.0.1",
			HealthAddr:       fmt.Sprintf("127.0.0.1:%d", ports[1]),
			GatewayAddresses: []gatewayv1.GatewayStatusAddress{{Type: new(gatewayv1.IPAddressType), Value: "192.0.2.10"}},
		})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	eventually(t, 30*time.Second, func() (bool, string) {
		code, body := fetch(fmt.Sprintf("http://127.0.0.1:%d/readyz", ports[1]), "")
		return code == http.StatusOK, fmt.Sprintf("/readyz: %d %q", code, body)
	})
	eventually(t, 10*time.Second, func() (bool, string) {
		code, body := fetch(fmt.Sprintf("http://127.0.0.1:%d/", ports[0]), "")
		return code == http.StatusOK && body == "web", fmt.Sprintf("GET / on the listener port: %d %q", code, body)
	})
	eventually(t, 30*time.Second, func() (bool, string) {
		gw, err := c.gateway.GatewayV1().Gateways(ns).Get(ctx, "gw", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return len(gw.Status.Addresses) == 1 && gw.Status.Addresses[0].Value == "192.0.2.10", fmt.Sprintf("addresses %+v", gw.Status.Addresses)
	})
}

// freePorts returns n free TCP ports of 127.0.0.1.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var out []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		out = append(out, ln.Addr().(*net.TCPAddr).Port)
	}
	return out
}

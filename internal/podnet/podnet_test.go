package podnet

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// TestDialContext pins that "podIP:port" reaches the Pod's echo server
// and that any other address is refused without a connection attempt.
func TestDialContext(t *testing.T) {
	ps := New(slog.New(slog.DiscardHandler))
	defer ps.Close()
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web"}}
	d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "web"}}
	p, err := ps.Ensure(ForDeployment(d, 0))
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{DialContext: ps.DialContext}, Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + p.IP + ":3000/hello")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"path": "/hello"`) {
		t.Errorf("GET /hello through the pod network: %d %s", resp.StatusCode, body)
	}
	logs, err := ps.Logs(types.NamespacedName{Namespace: "ns", Name: p.Name.Name}, "web", time.Time{})
	if err != nil || !strings.Contains(string(logs), "/hello") {
		t.Errorf("pod log %q, %v: want the request", logs, err)
	}
	for _, addr := range []string{p.IP + ":9999", "198.18.255.1:3000", "127.0.0.1:3000", "not-an-address"} {
		if c, err := ps.DialContext(context.Background(), "tcp", addr); err == nil {
			c.Close()
			t.Errorf("DialContext(%q) connected; want it refused", addr)
		}
	}
}

// TestConfigMapFiles pins the files of a configMap volume: a key of data
// and one of binaryData each become a file, and an empty ConfigMap has
// none.
func TestConfigMapFiles(t *testing.T) {
	tests := []struct {
		name string
		cm   corev1.ConfigMap
		want map[string][]byte
	}{
		{name: "empty", want: map[string][]byte{}},
		{
			name: "data and binaryData",
			cm:   corev1.ConfigMap{Data: map[string]string{"ca.crt": "PEM"}, BinaryData: map[string][]byte{"key.der": {0, 1}}},
			want: map[string][]byte{"ca.crt": []byte("PEM"), "key.der": {0, 1}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, ConfigMapFiles(&tt.cm)); diff != "" {
				t.Errorf("ConfigMapFiles (-want +got):\n%s", diff)
			}
		})
	}
}

package main

import (
	"encoding/json"
	"net/http"
	"net/http/pprof"
	"time"

	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	xv1alpha1 "sigs.k8s.io/gateway-api/apisx/v1alpha1"

	"github.com/httproute/httproute"
)

// statusDoc is what /status answers: whether the gateway is ready, where
// its configuration comes from, the listener ports served, and the Router's
// Status with objects named "namespace/name".
type statusDoc struct {
	Ready  bool   `json:"ready"`
	Source string `json:"source"`
	// Config is the file source's: its reloads and the problem of the
	// last one, when it failed.
	Config *configStatus `json:"config,omitempty"`
	// Cluster is the cluster source's.
	Cluster            *clusterStatus                             `json:"cluster,omitempty"`
	Listeners          []listenerStatus                           `json:"listeners"`
	Gateways           map[string]gatewayv1.GatewayStatus         `json:"gateways"`
	HTTPRoutes         map[string]gatewayv1.HTTPRouteStatus       `json:"httpRoutes"`
	XBackends          map[string]xv1alpha1.BackendStatus         `json:"xBackends,omitempty"`
	XTelemetryPolicies map[string]xv1alpha1.TelemetryPolicyStatus `json:"xTelemetryPolicies,omitempty"`
}

// configStatus is a manifest.WatchStatus.
type configStatus struct {
	Paths   []string   `json:"paths"`
	Applied *time.Time `json:"applied,omitempty"`
	Applies int        `json:"applies"`
	Reloads int        `json:"reloads"`
	// Error is the problem of the last reload; the configuration applied
	// before it is still served.
	Error  string     `json:"error,omitempty"`
	Failed *time.Time `json:"failed,omitempty"`
}

type clusterStatus struct {
	GatewayClass string `json:"gatewayClass,omitempty"`
	Leader       bool   `json:"leader"`
}

func newStatusDoc(st httproute.Status, ready bool, listeners []listenerStatus) statusDoc {
	return statusDoc{
		Ready:              ready,
		Listeners:          listeners,
		Gateways:           byName(st.Gateways),
		HTTPRoutes:         byName(st.HTTPRoutes),
		XBackends:          byName(st.XBackends),
		XTelemetryPolicies: byName(st.XTelemetryPolicies),
	}
}

// byName keys m by "namespace/name", as JSON keys must be strings.
func byName[V any](m map[types.NamespacedName]V) map[string]V {
	if m == nil {
		return nil
	}
	out := make(map[string]V, len(m))
	for k, v := range m {
		out[k.String()] = v
	}
	return out
}

// adminMux serves /healthz (200 while the process runs), /readyz (200
// once the first configuration serves, 503 before and while draining) and,
// when given, /status, /metrics and /debug/pprof/.
func adminMux(ready func() bool, status func() statusDoc, metrics http.Handler, withPprof bool) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	if status != nil {
		mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			_ = enc.Encode(status())
		})
	}
	if metrics != nil {
		mux.Handle("GET /metrics", metrics)
	}
	if withPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

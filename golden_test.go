package httproute_test

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/httproute/httproute"
)

var update = flag.Bool("update", false, "rewrite golden files")

// goldenRequest is one request of a golden case.
type goldenRequest struct {
	Method string `json:"method,omitempty"`
	Host   string `json:"host"`
	Path   string `json:"path"`
	Port   int32  `json:"port,omitempty"`
	// Gateway ("namespace/name") serves the request with Router.Gateway.
	Gateway string            `json:"gateway,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
}

// goldenOutcome is what the Router did with it.
type goldenOutcome struct {
	Request  string   `json:"request"`
	Route    string   `json:"route,omitempty"`
	Rule     *int     `json:"rule,omitempty"`
	Match    *int     `json:"match,omitempty"`
	Backends []string `json:"backends,omitempty"`
	Status   int      `json:"status"`
	// ServedBy is the Service that answered, from the demo backend's body.
	ServedBy string `json:"servedBy,omitempty"`
	Location string `json:"location,omitempty"`
}

type goldenFile struct {
	Outcomes []goldenOutcome                       `json:"outcomes"`
	Routes   map[string][]routeParentSummary       `json:"routes,omitempty"`
	Gateways map[string]map[string]listenerSummary `json:"gateways,omitempty"`
}

type routeParentSummary struct {
	Parent     string   `json:"parent"`
	Conditions []string `json:"conditions"`
}

type listenerSummary struct {
	AttachedRoutes int32    `json:"attachedRoutes"`
	Conditions     []string `json:"conditions"`
}

// loadGoldenCase decodes a multi-document YAML file of Gateway API objects
// plus one test-only document "kind: Requests".
func loadGoldenCase(t *testing.T, path string) (httproute.Config, []goldenRequest, map[string]bool) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cfg httproute.Config
	var reqs []goldenRequest
	var services map[string]bool
	for i, doc := range strings.Split(string(data), "\n---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		var meta struct {
			Kind     string          `json:"kind"`
			Requests []goldenRequest `json:"requests"`
			Services []string        `json:"services"`
		}
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatalf("%s: document %d: %v", path, i, err)
		}
		strict := func(v any) {
			if err := yaml.UnmarshalStrict([]byte(doc), v); err != nil {
				t.Fatalf("%s: document %d: %v", path, i, err)
			}
		}
		defaultNS := func(m *metav1.ObjectMeta) {
			if m.Namespace == "" {
				m.Namespace = "default"
			}
		}
		switch meta.Kind {
		case "Gateway":
			var o gatewayv1.Gateway
			strict(&o)
			defaultNS(&o.ObjectMeta)
			cfg.Gateways = append(cfg.Gateways, &o)
		case "HTTPRoute":
			var o gatewayv1.HTTPRoute
			strict(&o)
			defaultNS(&o.ObjectMeta)
			cfg.HTTPRoutes = append(cfg.HTTPRoutes, &o)
		case "ReferenceGrant":
			var o gatewayv1.ReferenceGrant
			strict(&o)
			defaultNS(&o.ObjectMeta)
			cfg.ReferenceGrants = append(cfg.ReferenceGrants, &o)
		case "Namespace":
			var o corev1.Namespace
			strict(&o)
			cfg.Namespaces = append(cfg.Namespaces, &o)
		case "Requests":
			reqs = append(reqs, meta.Requests...)
			if meta.Services != nil {
				services = map[string]bool{}
				for _, s := range meta.Services {
					services[s] = true
				}
			}
		default:
			t.Fatalf("%s: document %d: unexpected kind %q", path, i, meta.Kind)
		}
	}
	return cfg, reqs, services
}

// demoServices resolves every Service port (or only the listed ones) to an
// in-process handler that answers with its own name.
func demoServices(known map[string]bool) httproute.ServiceResolver {
	return httproute.ServiceResolverFunc(func(ref httproute.BackendRef) (httproute.Backend, error) {
		name := fmt.Sprintf("%s/%s:%d", ref.Namespace, ref.Name, ref.Port)
		if known != nil && !known[ref.Namespace+"/"+ref.Name] {
			return nil, fmt.Errorf("service %s: %w", name, httproute.ErrNotFound)
		}
		return httproute.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, name)
		})), nil
	})
}

func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/golden/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, path := range files {
		if strings.HasSuffix(path, ".golden.yaml") {
			continue
		}
		name := strings.TrimSuffix(filepath.Base(path), ".yaml")
		t.Run(name, func(t *testing.T) {
			cfg, reqs, known := loadGoldenCase(t, path)
			cfg.Services = demoServices(known)
			cfg.Now = func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }
			rt, err := httproute.New(cfg)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			var got goldenFile
			for _, gr := range reqs {
				got.Outcomes = append(got.Outcomes, serveGolden(rt, gr))
			}
			summarizeStatus(rt.Status(), &got)
			out, err := yaml.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			goldenPath := strings.TrimSuffix(path, ".yaml") + ".golden.yaml"
			if *update {
				if err := os.WriteFile(goldenPath, out, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(goldenPath)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGolden -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), string(out)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", goldenPath, diff)
			}
		})
	}
}

func serveGolden(rt *httproute.Router, gr goldenRequest) goldenOutcome {
	method := gr.Method
	if method == "" {
		method = "GET"
	}
	req := httptest.NewRequest(method, "http://placeholder"+gr.Path, nil)
	req.Host = gr.Host
	for k, v := range gr.Headers {
		req.Header.Set(k, v)
	}
	o := goldenOutcome{Request: strings.TrimSpace(fmt.Sprintf("%s %s%s %s", method, gr.Host, gr.Path, headerString(gr.Headers)))}
	if gr.Port != 0 {
		o.Request += fmt.Sprintf(" (port %d)", gr.Port)
	}
	var h http.Handler = rt
	if gr.Port != 0 {
		h = rt.Port(gr.Port)
	}
	if gr.Gateway != "" {
		ns, name, _ := strings.Cut(gr.Gateway, "/")
		o.Request += " (gateway " + gr.Gateway + ")"
		h = rt.Gateway(ns, name).Port(gr.Port)
	}
	if gr.Port == 0 {
		if m, ok := rt.Lookup(req); ok {
			o.Route = m.Route.String()
			o.Rule, o.Match = &m.Rule, &m.MatchIndex
			for _, b := range m.Backends {
				s := fmt.Sprintf("%s (weight %d)", b.Ref, b.Weight)
				if b.Err != nil {
					s += " invalid"
				}
				o.Backends = append(o.Backends, s)
			}
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	o.Status = rec.Code
	o.Location = rec.Header().Get("Location")
	if rec.Code == 200 {
		o.ServedBy = rec.Body.String()
	}
	return o
}

func headerString(h map[string]string) string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s ", k, h[k])
	}
	return strings.TrimSpace(b.String())
}

func summarizeStatus(st httproute.Status, out *goldenFile) {
	cond := func(cs []metav1.Condition) []string {
		var s []string
		for _, c := range cs {
			s = append(s, fmt.Sprintf("%s=%s %s", c.Type, c.Status, c.Reason))
		}
		return s
	}
	out.Routes = map[string][]routeParentSummary{}
	for nn, rs := range st.HTTPRoutes {
		for _, p := range rs.Parents {
			parent := string(p.ParentRef.Name)
			if p.ParentRef.Namespace != nil {
				parent = string(*p.ParentRef.Namespace) + "/" + parent
			}
			if p.ParentRef.SectionName != nil {
				parent += "#" + string(*p.ParentRef.SectionName)
			}
			out.Routes[nn.String()] = append(out.Routes[nn.String()], routeParentSummary{Parent: parent, Conditions: cond(p.Conditions)})
		}
	}
	out.Gateways = map[string]map[string]listenerSummary{}
	for nn, gs := range st.Gateways {
		m := map[string]listenerSummary{}
		for _, l := range gs.Listeners {
			m[string(l.Name)] = listenerSummary{AttachedRoutes: l.AttachedRoutes, Conditions: cond(l.Conditions)}
		}
		out.Gateways[nn.String()] = m
	}
}

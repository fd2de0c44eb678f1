// Command quickstart serves every route of the seed document "Exploring the
// Gateway API's HTTPRoute" from one in-process httproute.Router, against
// in-process demo backends that answer with a JSON echo of the request and
// their own name.
//
//	go run -C examples/quickstart .                 # serve on 127.0.0.1:8080
//	go run -C examples/quickstart . -only 05        # one seed example alone
//	go run -C examples/quickstart . -lambda http://127.0.0.1:9001
//
// The seed's YAML is embedded verbatim (manifests/seed), one file per
// example, with the Gateways it names (manifests/gateways.yaml). Each file
// is loaded and validated on its own, as kubectl apply -f would: the seed's
// malformed A/B route is reported with its file and line and left out. The
// seed reuses the name httpbin/httpbin for three different routes; a
// cluster would keep only the last one applied, so the quick start serves
// the later ones under a suffixed name and says so. Objects are given
// creation times in file order, as if applied in that order, which is what
// decides precedence between otherwise equal routes.
package main

import (
	"bytes"
	"context"
	"embed"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"path"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/extension/directresponse"
	"github.com/httproute/httproute/extension/lambda"
	"github.com/httproute/httproute/internal/echo"
	"github.com/httproute/httproute/manifest"
)

//go:embed manifests
var manifests embed.FS

// demoServices are the Services the seed's routes send traffic to; each
// resolves, in any namespace, to an in-process echo backend.
var demoServices = []string{
	"httpbin", "httpbin-v1", "httpbin-v2", "httpbin-v3", "productpage",
	"helloworld-v1", "helloworld-v2", "helloworld-v3",
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil))
}

// run is the program; ready, when not nil, receives the listening address
// once the server is up (for tests).
func run(ctx context.Context, args []string, stdout, stderr io.Writer, ready chan<- string) int {
	fl := flag.NewFlagSet("quickstart", flag.ContinueOnError)
	fl.SetOutput(stderr)
	addr := fl.String("addr", "127.0.0.1:8080", "address to serve on")
	only := fl.String("only", "", "comma-separated seed example numbers to serve alone (e.g. 05 or 06,07)")
	lambdaEndpoint := fl.String("lambda", os.Getenv("HTTPROUTE_LAMBDA_ENDPOINT"),
		"base URL of a local AWS Lambda emulator for the seed's lambda route (or $HTTPROUTE_LAMBDA_ENDPOINT)")
	verbose := fl.Bool("v", false, "log configuration problems and backend errors")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	logLevel := slog.LevelError
	if *verbose {
		logLevel = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: logLevel}))

	lambdaOpts := lambda.Options{Local: true, Endpoint: *lambdaEndpoint, FunctionName: "function", Logger: logger}
	exts := append([]httproute.Extension{directresponse.Extension()}, lambda.Extensions(lambdaOpts)...)

	cfg, notes, err := loadSeed(exts, *only)
	if err != nil {
		fmt.Fprintln(stderr, "quickstart:", err)
		return 1
	}
	cfg.Extensions = exts
	cfg.Services = demoResolver()
	cfg.Logger = logger
	rt, err := httproute.New(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "quickstart:", err)
		return 1
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(stderr, "quickstart:", err)
		return 1
	}
	// Every seed Gateway listens on port 80; serve that listener port here.
	srv := &http.Server{Handler: rt.Port(80), ReadHeaderTimeout: 10 * time.Second}
	base := "http://" + ln.Addr().String()

	for _, n := range notes {
		fmt.Fprintln(stdout, n)
	}
	printStatus(stdout, rt.Status())
	printTour(stdout, rt, base, *lambdaEndpoint)
	fmt.Fprintf(stdout, "\nServing the seed's routes on %s (Ctrl-C to stop).\n", base)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if ready != nil {
		ready <- ln.Addr().String()
	}
	select {
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
		return 0
	case err := <-errc:
		fmt.Fprintln(stderr, "quickstart:", err)
		return 1
	}
}

// loadSeed reads the embedded manifests, each seed file on its own, and
// merges them into one Config. It returns notes for the person running the
// quick start: files rejected (with their positions) and objects renamed.
func loadSeed(exts []httproute.Extension, only string) (httproute.Config, []string, error) {
	var cfg httproute.Config
	var notes []string
	gw, err := decodeFile(exts, "manifests/gateways.yaml")
	if err != nil {
		return cfg, nil, err
	}
	cfg.Gateways = gw.Config.Gateways

	files, err := fs.Glob(manifests, "manifests/seed/*.yaml")
	if err != nil {
		return cfg, nil, err
	}
	var selected []string
	if only != "" {
		selected = strings.Split(only, ",")
	}
	seen := map[string]string{} // kind/ns/name -> file
	created := time.Date(2025, 3, 28, 0, 0, 0, 0, time.UTC)
	for _, f := range files {
		base := path.Base(f)
		if selected != nil && !slices.ContainsFunc(selected, func(s string) bool { return strings.HasPrefix(base, strings.TrimSpace(s)+"-") }) {
			continue
		}
		m, err := decodeFile(exts, f)
		if err != nil {
			notes = append(notes, fmt.Sprintf("rejected %s (left out, as an API server would refuse it):\n  %s",
				base, strings.ReplaceAll(err.Error(), "\n", "\n  ")))
			continue
		}
		number := strings.SplitN(base, "-", 2)[0]
		for _, hr := range m.Config.HTTPRoutes {
			created = created.Add(time.Second)
			hr.CreationTimestamp = metav1.NewTime(created)
			key := "HTTPRoute/" + hr.Namespace + "/" + hr.Name
			if first, dup := seen[key]; dup {
				renamed := hr.Name + "-" + number
				notes = append(notes, fmt.Sprintf("renamed HTTPRoute %s/%s of %s to %s: %s already uses the name (a cluster would keep only the last one applied)",
					hr.Namespace, hr.Name, base, renamed, first))
				hr.Name = renamed
				key = "HTTPRoute/" + hr.Namespace + "/" + hr.Name
			}
			seen[key] = base
			cfg.HTTPRoutes = append(cfg.HTTPRoutes, hr)
		}
		cfg.ReferenceGrants = append(cfg.ReferenceGrants, m.Config.ReferenceGrants...)
		cfg.Objects = append(cfg.Objects, m.Config.Objects...)
		cfg.Gateways = append(cfg.Gateways, m.Config.Gateways...)
	}
	return cfg, notes, nil
}

func decodeFile(exts []httproute.Extension, name string) (*manifest.Manifests, error) {
	data, err := manifests.ReadFile(name)
	if err != nil {
		return nil, err
	}
	return manifest.Decode(manifest.Options{Extensions: exts}, strings.TrimPrefix(name, "manifests/"), bytes.NewReader(data))
}

// demoResolver resolves the demo Services in every namespace to echo
// backends that report the namespace and Service they stand for, in the
// JSON echo and in an X-Demo-Backend response header.
func demoResolver() httproute.ServiceResolver {
	return httproute.ServiceResolverFunc(func(ref httproute.BackendRef) (httproute.Backend, error) {
		if !slices.Contains(demoServices, ref.Name) {
			return nil, fmt.Errorf("no demo backend named %q: %w", ref.Name, httproute.ErrNotFound)
		}
		e := echo.New(echo.Info{
			Namespace: ref.Namespace,
			Service:   ref.Name,
			Pod:       ref.Name + "-demo",
			HTTPPort:  fmt.Sprint(ref.Port),
		})
		name := ref.Namespace + "/" + ref.Name
		return httproute.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Say who answered even where the echo has no body (/status/NNN).
			w.Header().Set("X-Demo-Backend", name)
			e.ServeHTTP(w, r)
		})), nil
	})
}

// printStatus lists the routes and whether each is accepted, as kubectl
// get httproutes would show a controller's status.
func printStatus(w io.Writer, st httproute.Status) {
	names := slices.SortedFunc(maps.Keys(st.HTTPRoutes), func(a, b types.NamespacedName) int {
		return strings.Compare(a.String(), b.String())
	})
	fmt.Fprintln(w, "\nRoutes:")
	for _, nn := range names {
		n := nn.String()
		for _, p := range st.HTTPRoutes[nn].Parents {
			var conds []string
			for _, c := range p.Conditions {
				conds = append(conds, c.Type+"="+string(c.Status))
				if c.Status != metav1.ConditionTrue && c.Type != string(gatewayv1.RouteConditionPartiallyInvalid) {
					conds[len(conds)-1] += " (" + c.Reason + ": " + c.Message + ")"
				}
			}
			parent := string(p.ParentRef.Name)
			if p.ParentRef.Namespace != nil {
				parent = string(*p.ParentRef.Namespace) + "/" + parent
			}
			fmt.Fprintf(w, "  %-40s on %-28s %s\n", n, parent, strings.Join(conds, " "))
		}
	}
}

// tourStop is one curl command of the tour and what it shows.
type tourStop struct {
	what   string
	method string
	host   string
	path   string
	header map[string]string
	repeat int
}

var tour = []tourStop{
	{what: "hostname match (seed: httpbin route)", host: "httpbin.example.com", path: "/headers"},
	{what: "PathPrefix /status/200 bound to listener http", path: "/status/200"},
	{what: "Exact /productpage (bookinfo)", path: "/productpage"},
	{what: "PathPrefix /static matches whole segments: /static/app.css", path: "/static/app.css"},
	{what: "Exact beats PathPrefix: DirectResponse on /direct-response", path: "/direct-response"},
	{what: "longest prefix wins: /echo goes to the Lambda backend", path: "/echo"},
	{what: "weighted split 10/10/80 (run it a few times)", host: "traffic.split.example", path: "/", repeat: 10},
}

// printTour prints curl commands and, for each, what the Router will do
// (from Lookup, so the tour cannot drift from the configuration).
func printTour(w io.Writer, rt *httproute.Router, base, lambdaEndpoint string) {
	fmt.Fprintln(w, "\nTry:")
	for _, s := range tour {
		host := s.host
		if host == "" {
			host = "example.com"
		}
		req := httptest.NewRequest("GET", "http://"+host+s.path, nil)
		m, ok := rt.Lookup(req)
		outcome := "no route: 404"
		if ok {
			var backends []string
			for _, b := range m.Backends {
				backends = append(backends, fmt.Sprintf("%s (weight %d)", b.Ref.Name, b.Weight))
			}
			outcome = fmt.Sprintf("%s rule %d -> %s", m.Route, m.Rule, strings.Join(backends, ", "))
			if len(m.Backends) == 0 {
				outcome = fmt.Sprintf("%s rule %d (answered by its filter)", m.Route, m.Rule)
			}
		}
		cmd := "curl -si"
		if s.host != "" {
			cmd += fmt.Sprintf(" -H 'Host: %s'", s.host)
		}
		cmd += " " + base + s.path
		if s.repeat > 0 {
			cmd = fmt.Sprintf("for i in $(seq %d); do curl -s -H 'Host: %s' %s%s | grep '\"service\"'; done", s.repeat, s.host, base, s.path)
		}
		fmt.Fprintf(w, "  # %s\n  #   %s\n  %s\n", s.what, outcome, cmd)
	}
	if lambdaEndpoint == "" {
		fmt.Fprintln(w, "  # (/echo answers 503 until a Lambda emulator is given with -lambda http://127.0.0.1:9001)")
	}
	fmt.Fprintln(w, "  # the seed's redirect-to-https route is shadowed here by the older httpbin route (same hostname")
	fmt.Fprintln(w, "  # and path); serve it alone to see its 301:  go run -C examples/quickstart . -only 05")
}

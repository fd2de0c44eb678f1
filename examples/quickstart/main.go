// Command quickstart serves every example of the post "Exploring the
// Gateway API's HTTPRoute" (the seed, in manifests/seed, verbatim) and the
// examples the post describes without YAML (manifests/tour) from
// in-process httproute.Routers, against demo backends that say who
// answered, and prints a tour: for each section of the post, curl commands
// and the answer each should give.
//
//	go run -C examples/quickstart .                  # serve on 127.0.0.1:8080 (and :8081)
//	go run -C examples/quickstart . -only 03,retry   # some examples alone
//	go run -C examples/quickstart . -lambda http://127.0.0.1:9001
//
// Each file is loaded and validated on its own, as kubectl apply -f would:
// the post's A/B route is reported with its YAML error, then with what an
// API server says once its indentation is fixed, and a corrected copy is
// served (manifests/ab). The post reuses the name httpbin/httpbin for three
// routes; a cluster would keep only the last one applied, so the quick
// start serves the later ones under a suffixed name and says so. Objects
// are given creation times in file order, as if applied in that order,
// which decides precedence between otherwise equal routes. The seed's
// HTTPS redirect (05) redirects a host that route 01 already serves: it
// gets a Router of its own on the second address, -redirect-addr.
package main

import (
	"context"
	"embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/extension/directresponse"
	"github.com/httproute/httproute/extension/lambda"
)

//go:embed manifests
var manifests embed.FS

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil))
}

// run is the program; ready, when not nil, receives the tour it printed,
// with the addresses it serves, once the servers are up (for tests).
func run(ctx context.Context, args []string, stdout, stderr io.Writer, ready chan<- []stop) int {
	fl := flag.NewFlagSet("quickstart", flag.ContinueOnError)
	fl.SetOutput(stderr)
	addr := fl.String("addr", "127.0.0.1:8080", "address to serve on")
	redirectAddr := fl.String("redirect-addr", "127.0.0.1:8081",
		"second address, for the examples another one shadows on -addr (the HTTPS redirect, 05)")
	only := fl.String("only", "", "comma-separated examples to serve alone (seed numbers such as 05, tour names such as retry)")
	lambdaEndpoint := fl.String("lambda", os.Getenv("HTTPROUTE_LAMBDA_ENDPOINT"),
		"base URL of a local AWS Lambda emulator for the seed's lambda route (or $HTTPROUTE_LAMBDA_ENDPOINT)")
	verbose := fl.Bool("v", false, "log configuration problems and backend errors")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintln(stderr, "quickstart:", err)
		return 1
	}
	all, err := catalog()
	if err != nil {
		return fail(err)
	}
	selected, err := selectExamples(all, *only)
	if err != nil {
		fmt.Fprintln(stderr, "quickstart:", err)
		return 2
	}
	logLevel := slog.LevelError
	if *verbose {
		logLevel = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: logLevel}))

	lambdaOpts := lambda.Options{Local: true, Endpoint: *lambdaEndpoint, FunctionName: "function", Logger: logger}
	exts := append([]httproute.Extension{directresponse.Extension()}, lambda.Extensions(lambdaOpts)...)
	cfgs, notes, err := newLoader(exts).load(all, selected)
	if err != nil {
		return fail(err)
	}
	d, err := startDemo()
	if err != nil {
		return fail(err)
	}
	defer d.close()

	// One Router per address: "main" serves the examples, "alone" those
	// that an example on main shadows.
	routers := map[string]*httproute.Router{}
	for name, cfg := range map[string]httproute.Config{"main": cfgs.main, "alone": cfgs.alone} {
		if name == "alone" && len(cfg.HTTPRoutes) == 0 {
			continue
		}
		cfg.Extensions = exts
		cfg.Services = d
		cfg.Logger = logger
		rt, err := httproute.New(cfg)
		if err != nil {
			return fail(err)
		}
		routers[name] = rt
	}
	listenAddrs := map[string]string{"main": *addr, "alone": *redirectAddr}
	bases := map[string]string{}
	var servers []*http.Server
	errc := make(chan error, len(routers))
	for _, name := range slices.Sorted(maps.Keys(routers)) {
		ln, err := net.Listen("tcp", listenAddrs[name])
		if err != nil {
			for _, s := range servers {
				_ = s.Close()
			}
			return fail(err)
		}
		// Every Gateway of the quick start listens on port 80: serve that
		// listener port.
		srv := &http.Server{Handler: routers[name].Port(80), ReadHeaderTimeout: 10 * time.Second}
		servers = append(servers, srv)
		bases[name] = "http://" + ln.Addr().String()
		go func() { errc <- srv.Serve(ln) }()
	}

	for _, n := range notes {
		fmt.Fprintln(stdout, n)
	}
	for _, name := range []string{"main", "alone"} {
		if rt := routers[name]; rt != nil {
			printStatus(stdout, name, bases[name], rt.Status())
		}
	}
	stops := plan(tourStops(), cfgs.where, bases, *lambdaEndpoint != "")
	printTour(stdout, stops)
	fmt.Fprintf(stdout, "\nServing on %s (Ctrl-C to stop).\n", strings.Join(slices.Sorted(maps.Values(bases)), " and "))
	if ready != nil {
		ready <- stops
	}

	select {
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, s := range servers {
			_ = s.Shutdown(shutdown)
		}
		return 0
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return 0
		}
		return fail(err)
	}
}

// printStatus lists the routes a Router serves and whether each is
// accepted, as kubectl get httproutes would show a controller's status.
func printStatus(w io.Writer, name, base string, st httproute.Status) {
	names := slices.SortedFunc(maps.Keys(st.HTTPRoutes), func(a, b types.NamespacedName) int {
		return strings.Compare(a.String(), b.String())
	})
	if name == "main" {
		fmt.Fprintf(w, "\nRoutes on %s:\n", base)
	} else {
		fmt.Fprintf(w, "\nRoutes on %s (shadowed on the first address by an older route):\n", base)
	}
	for _, nn := range names {
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
			fmt.Fprintf(w, "  %-40s on %-28s %s\n", nn.String(), parent, strings.Join(conds, " "))
		}
	}
}

package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"golang.org/x/net/http/httpguts"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/endpointslice"
	"github.com/httproute/httproute/manifest"
)

const explainUsage = "usage: httproute explain -config PATH [-port 80] [-X METHOD] [-H 'Name: value']... URL"

// explain is the explain command: it loads a configuration as serve does
// and prints which Gateway, listener, route, rule, match and backendRefs
// would serve a request, through Router.Lookup (no filter runs, no backend
// is called). It exits 0 when a rule matches, 1 when none does or the
// configuration does not load, and 2 on a usage error.
func explain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var configs stringsFlag
	fs.Var(&configs, "config", "a manifest file or directory `PATH` to read (repeatable)")
	var load loadFlags
	load.register(fs)
	port := fs.Int("port", 0, "the listener `port` the request arrives on (default the URL's port, else 80 for http and 443 for https)")
	method := fs.String("X", http.MethodGet, "the request `method`")
	var headers stringsFlag
	fs.Var(&headers, "H", "a request header `'Name: value'` (repeatable; Host sets the request's host)")
	class := fs.String("gateway-class", "", "serve only the Gateways of this GatewayClass `NAME`, as serve -gateway-class")
	fs.Usage = func() {
		fmt.Fprintln(stderr, explainUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	usageError := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "httproute explain: "+format+"\n", a...)
		fs.Usage()
		return 2
	}
	if len(configs) == 0 {
		return usageError("-config is required")
	}
	if fs.NArg() != 1 {
		return usageError("want one URL after the flags, got %d arguments", fs.NArg())
	}
	if err := load.check(); err != nil {
		return usageError("%v", err)
	}
	req, p, err := explainRequest(fs.Arg(0), *method, headers, *port)
	if err != nil {
		return usageError("%v", err)
	}

	logger := slog.New(slog.DiscardHandler)
	m, err := manifest.Load(load.options(logger), configs...)
	if err != nil {
		fmt.Fprintln(stderr, "the configuration does not load (serve would refuse it):")
		for _, e := range flatten(err) {
			fmt.Fprintln(stderr, "  "+e.Error())
		}
		return 1
	}
	cfg := routerConfig(m, &endpointslice.Resolver{})
	cfg.GatewayClassName = gatewayv1.ObjectName(*class)
	cfg.Logger = logger
	rt, err := httproute.New(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "the configuration cannot be served: %v\n", err)
		return 1
	}
	match, ok := rt.Port(p).Lookup(req)
	if !ok {
		fmt.Fprintf(stdout, "no rule matches %s %s on listener port %d: the Router answers 404 (or redirects or refuses a path it does not serve as sent)\n",
			req.Method, req.URL, p)
		if declared := servedPorts(&cfg, nil); len(cfg.Gateways) > 0 {
			if _, ok := declared[p]; !ok {
				fmt.Fprintf(stdout, "no Gateway served declares listener port %d; the ports served are %s\n", p, portList(declared))
			}
		}
		return 1
	}
	writeMatch(stdout, &match)
	return 0
}

// explainRequest builds the request explain looks up, and the listener
// port it arrives on.
func explainRequest(rawURL, method string, headers []string, port int) (*http.Request, int32, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, 0, fmt.Errorf("want an absolute http or https URL, got %q", rawURL)
	}
	if !httpguts.ValidHeaderFieldName(method) {
		return nil, 0, fmt.Errorf("invalid method %q", method)
	}
	req, err := http.NewRequest(method, u.String(), nil)
	if err != nil {
		return nil, 0, err
	}
	for _, h := range headers {
		name, value, ok := strings.Cut(h, ":")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || !httpguts.ValidHeaderFieldName(name) || !httpguts.ValidHeaderFieldValue(value) {
			return nil, 0, fmt.Errorf("invalid header %q: want 'Name: value'", h)
		}
		if strings.EqualFold(name, "Host") {
			req.Host = value
			continue
		}
		req.Header.Add(name, value)
	}
	switch {
	case port < 0 || port > 65535:
		return nil, 0, fmt.Errorf("invalid value %d for flag -port: want 1 to 65535", port)
	case port > 0:
	case u.Port() != "":
		port, _ = strconv.Atoi(u.Port())
	case u.Scheme == "https":
		port = 443
	default:
		port = 80
	}
	if port == 0 {
		return nil, 0, fmt.Errorf("the URL's port %q is not a listener port", u.Port())
	}
	// Host as the client sends it: without the scheme's default port.
	if host, p, err := net.SplitHostPort(req.Host); err == nil && (u.Scheme == "http" && p == "80" || u.Scheme == "https" && p == "443") {
		req.Host = host
	}
	return req, int32(port), nil
}

// writeMatch prints a Match as a small table.
func writeMatch(w io.Writer, m *httproute.Match) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if m.Gateway.Name == "" {
		fmt.Fprintf(tw, "gateway\t(none: the implicit listener of a configuration without Gateways)\n")
	} else {
		fmt.Fprintf(tw, "gateway\t%s\n", m.Gateway)
		fmt.Fprintf(tw, "listener\t%s (port %d)\n", m.Listener, m.Port)
	}
	if m.Hostname != "" {
		fmt.Fprintf(tw, "hostname\t%s\n", m.Hostname)
	}
	fmt.Fprintf(tw, "route\t%s\n", m.Route)
	rule := strconv.Itoa(m.Rule)
	if m.RuleName != "" {
		rule += fmt.Sprintf(" (name %s)", m.RuleName)
	}
	fmt.Fprintf(tw, "rule\t%s\n", rule)
	fmt.Fprintf(tw, "match\t%d: %s %s\n", m.MatchIndex, m.PathType, m.PathValue)
	if len(m.Backends) == 0 {
		fmt.Fprintf(tw, "backends\t(none: the rule's filters answer, or it answers 500)\n")
	}
	for i, b := range m.Backends {
		label := ""
		if i == 0 {
			label = "backends"
		}
		line := fmt.Sprintf("%s\t%s\tweight %d", label, b.Ref, b.Weight)
		if b.Err != nil {
			line += "\tunresolved (its share answers 500): " + b.Err.Error()
		}
		fmt.Fprintln(tw, line)
	}
	_ = tw.Flush()
}

// portList writes ports in order.
func portList(ports map[int32]bool) string {
	var out []string
	for _, p := range slices.Sorted(maps.Keys(ports)) {
		out = append(out, strconv.Itoa(int(p)))
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}

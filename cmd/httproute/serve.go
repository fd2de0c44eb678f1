package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/promroute"
)

// serveFlags are the flags of serve.
type serveFlags struct {
	configs stringsFlag
	load    loadFlags
	binds   bindFlag
	host    string

	admin, healthAddr string
	pprof             bool

	logFormat, logLevel string
	accessLog           bool
	grace               time.Duration

	// File source.
	watch      bool
	debounce   time.Duration
	allowEmpty bool
	maxDrop    float64
	strict     bool

	// Both sources: the class of the Gateways served.
	gatewayClass string
	// Cluster source.
	kubeconfig       string
	gatewayAddresses stringsFlag
}

// fileOnly and clusterOnly are the flags that make sense with one source
// only: giving one to the other is a usage error, not silence.
var (
	fileOnly    = []string{"watch", "debounce", "allow-empty", "max-drop", "experimental", "strict"}
	clusterOnly = []string{"kubeconfig", "gateway-address"}
)

const serveUsage = `usage: httproute serve -config PATH... [flags]     (files and directories)
       httproute serve [-gateway-class NAME] [-kubeconfig PATH] [flags]     (a cluster)`

func parseServe(args []string, stderr io.Writer) (*serveFlags, bool) {
	f := &serveFlags{binds: bindFlag{}}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Var(&f.configs, "config", "a manifest file or directory `PATH` (read recursively) to serve; repeatable, and further paths may follow the flags")
	f.load.register(fs)
	fs.Var(&f.binds, "bind", "serve listener port PORT on local address ADDR instead of -host (repeatable; `PORT=ADDR`, e.g. 80=127.0.0.1:18180)")
	fs.StringVar(&f.host, "host", "", "local `HOST` of the listener ports -bind does not name (default every interface)")
	fs.StringVar(&f.admin, "admin", "", "serve /readyz, /healthz, /metrics and /status on `ADDR` (e.g. 127.0.0.1:9901)")
	fs.BoolVar(&f.pprof, "pprof", false, "serve /debug/pprof/ on the -admin address too")
	fs.StringVar(&f.healthAddr, "health-addr", "", "serve only /healthz and /readyz on `ADDR` (a Pod's probes)")
	fs.StringVar(&f.logFormat, "log-format", "text", "log and access log `format`: text or json (to stderr)")
	fs.StringVar(&f.logLevel, "log-level", "info", "lowest `level` logged: debug, info, warn or error")
	fs.BoolVar(&f.accessLog, "access-log", true, "log every request (at level info)")
	fs.DurationVar(&f.grace, "shutdown-grace", 20*time.Second, "on SIGTERM or SIGINT, how long requests in flight may take to finish before their connections are closed")
	fs.BoolVar(&f.watch, "watch", true, "reload when the -config files change (SIGHUP reloads either way)")
	fs.DurationVar(&f.debounce, "debounce", 100*time.Millisecond, "how long the files must stay unchanged before a reload")
	fs.BoolVar(&f.allowEmpty, "allow-empty", false, "accept a reload that loads no object at all (refused by default: an emptied file would empty the routing table)")
	fs.Float64Var(&f.maxDrop, "max-drop", 0.5, "refuse a reload that removes more than this `share` (0 < share <= 1) of the HTTPRoutes served; 1 accepts any")
	fs.BoolVar(&f.strict, "strict", false, "refuse a configuration with any problem, instead of serving what has none")
	fs.StringVar(&f.gatewayClass, "gateway-class", "", "serve only the Gateways of this GatewayClass `NAME` (a cluster: every class naming the controller when empty)")
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig `PATH` of the cluster to serve (default the in-cluster configuration)")
	fs.Var(&f.gatewayAddresses, "gateway-address", "`ADDRESS` (IP or hostname) written into the status of Gateways that request none: where clients reach the replicas (repeatable)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, serveUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, false
	}
	usageError := func(format string, a ...any) (*serveFlags, bool) {
		fmt.Fprintf(stderr, "httproute serve: "+format+"\n", a...)
		fs.Usage()
		return nil, false
	}
	if fs.NArg() > 0 {
		if len(f.configs) == 0 {
			return usageError("unexpected argument %q: configuration paths follow -config", fs.Arg(0))
		}
		f.configs = append(f.configs, fs.Args()...)
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	wrong := fileOnly
	if len(f.configs) > 0 {
		wrong = clusterOnly
	}
	for _, name := range wrong {
		if set[name] {
			if len(f.configs) > 0 {
				return usageError("-%s serves a cluster: it does not go with -config", name)
			}
			return usageError("-%s needs -config (it concerns configuration files)", name)
		}
	}
	switch {
	case f.logFormat != "text" && f.logFormat != "json":
		return usageError("invalid value %q for flag -log-format: want text or json", f.logFormat)
	case f.maxDrop <= 0 || f.maxDrop > 1:
		return usageError("invalid value %v for flag -max-drop: want a share above 0 and at most 1", f.maxDrop)
	case f.debounce <= 0:
		return usageError("invalid value %v for flag -debounce: want a positive duration", f.debounce)
	case f.grace < 0:
		return usageError("invalid value %v for flag -shutdown-grace: want a duration of 0 or more", f.grace)
	}
	if _, err := parseLevel(f.logLevel); err != nil {
		return usageError("%v", err)
	}
	if err := f.load.check(); err != nil {
		return usageError("%v", err)
	}
	if f.pprof && f.admin == "" {
		return usageError("-pprof needs -admin")
	}
	return f, true
}

// serve is the serve command: it returns the exit code.
func serve(args []string, stderr io.Writer) int {
	f, ok := parseServe(args, stderr)
	if !ok {
		return 2
	}
	level, _ := parseLevel(f.logLevel)
	hopts := &slog.HandlerOptions{Level: level}
	var handler slog.Handler = slog.NewTextHandler(stderr, hopts)
	if f.logFormat == "json" {
		handler = slog.NewJSONHandler(stderr, hopts)
	}
	logger := slog.New(handler)

	// SIGHUP is caught from the start: its default would kill the process.
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(signals)

	if err := serveUntilSignal(f, logger, signals); err != nil {
		logger.Error("httproute serve", "error", err)
		return 1
	}
	return 0
}

// A source keeps a Router up to date: the configuration files or a
// cluster.
type source interface {
	// run keeps the Router up to date until ctx is done.
	run(ctx context.Context) error
	// reload reloads at once (SIGHUP).
	reload()
	// ready reports whether the Router serves the source's configuration.
	ready() bool
	// status is the source's part of /status.
	status(doc *statusDoc)
}

// serveUntilSignal serves until SIGTERM or SIGINT, then drains. An error
// is one that stops the program before or while it serves.
func serveUntilSignal(f *serveFlags, logger *slog.Logger, signals <-chan os.Signal) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics, err := promroute.New(reg, promroute.Options{})
	if err != nil {
		return err
	}
	var observer httproute.Observer = metrics
	if f.accessLog {
		accessLog, err := httproute.NewAccessLog(logger, httproute.AccessLogOptions{})
		if err != nil {
			return err
		}
		observer = httproute.Observers(metrics, accessLog)
	}
	base := httproute.Config{
		Observer:         observer,
		Logger:           logger,
		Strict:           f.strict,
		GatewayClassName: gatewayv1.ObjectName(f.gatewayClass),
	}
	ps := &ports{host: f.host, bind: f.binds, grace: f.grace, logger: logger}

	var src source
	rt := &httproute.Router{}
	if len(f.configs) > 0 {
		src, err = newFileSource(f, base, rt, ps, reg, logger)
	} else {
		src, rt, err = newClusterSource(f, base, ps, logger)
	}
	if err != nil {
		return err
	}

	var draining atomic.Bool
	ready := func() bool { return !draining.Load() && src.ready() }
	status := func() statusDoc {
		doc := newStatusDoc(rt.Status(), ready(), ps.status())
		src.status(&doc)
		return doc
	}
	var closers []func()
	defer func() {
		for _, c := range closers {
			c()
		}
	}()
	if f.admin != "" {
		mux := adminMux(ready, status, promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelError)}), f.pprof)
		stop, err := listenAdmin(f.admin, mux, logger, "admin listening")
		if err != nil {
			return err
		}
		closers = append(closers, stop)
	}
	if f.healthAddr != "" {
		stop, err := listenAdmin(f.healthAddr, adminMux(ready, nil, nil, false), logger, "health listening")
		if err != nil {
			return err
		}
		closers = append(closers, stop)
	}
	if fs, ok := src.(*fileSource); ok {
		// The first configuration must load, apply and have its ports
		// open: there is no older one to keep serving.
		if err := fs.start(); err != nil {
			return err
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- src.run(ctx) }()
	var runErr error
wait:
	for {
		select {
		case sig := <-signals:
			if sig == syscall.SIGHUP {
				src.reload()
				continue
			}
			logger.Info("shutting down: draining requests in flight", "signal", sig.String(), "grace", f.grace)
			break wait
		case runErr = <-done:
			done = nil
			if runErr == nil {
				runErr = errors.New("the configuration source stopped")
			}
			logger.Error("the configuration source stopped; shutting down", "error", runErr)
			break wait
		}
	}
	draining.Store(true)
	cancel()
	graceCtx, cancelGrace := context.WithTimeout(context.Background(), f.grace)
	defer cancelGrace()
	go func() {
		// A second SIGTERM or SIGINT (Ctrl-C again) ends the grace period.
		for sig := range signals {
			if sig != syscall.SIGHUP {
				logger.Warn("second signal: closing the connections left now", "signal", sig.String())
				cancelGrace()
				return
			}
		}
	}()
	if ps.shutdown(graceCtx) {
		logger.Info("every request finished; exiting")
	} else {
		logger.Warn("shutdown grace period over: connections with requests in flight closed", "grace", f.grace)
	}
	if done != nil {
		if err := <-done; err != nil && runErr == nil {
			logger.Warn("stopping the configuration source", "error", err)
		}
	}
	return runErr
}

// listenAdmin serves mux on addr until the returned function is called.
func listenAdmin(addr string, mux http.Handler, logger *slog.Logger, msg string) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin endpoint: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelDebug)}
	go func() { _ = srv.Serve(ln) }()
	logger.Info(msg, "address", ln.Addr().String())
	return func() { _ = srv.Close() }, nil
}

// servedPorts returns the listener ports cfg's Router serves (port:
// whether over TLS): those of its Gateways of the served class, or, for a
// Config without Gateways (every route on an implicit listener that takes
// every port), those of -bind over HTTP.
func servedPorts(cfg *httproute.Config, binds bindFlag) map[int32]bool {
	if len(cfg.Gateways) == 0 && cfg.GatewayClassName == "" {
		want := map[int32]bool{}
		for port := range binds {
			want[port] = false
		}
		return want
	}
	var gws []*gatewayv1.Gateway
	for _, gw := range cfg.Gateways {
		if cfg.GatewayClassName == "" || gw.Spec.GatewayClassName == cfg.GatewayClassName {
			gws = append(gws, gw)
		}
	}
	return listenerPorts(gws)
}

// bindFlag collects -bind PORT=ADDR flags.
type bindFlag map[int32]string

func (b bindFlag) String() string {
	var parts []string
	for p, a := range b {
		parts = append(parts, fmt.Sprintf("%d=%s", p, a))
	}
	return strings.Join(parts, ",")
}

func (b bindFlag) Set(s string) error {
	port, addr, ok := strings.Cut(s, "=")
	p, err := strconv.ParseUint(port, 10, 16)
	if !ok || err != nil || p == 0 {
		return fmt.Errorf("want PORT=ADDR with a listener port from 1 to 65535, got %q", s)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("want PORT=ADDR with ADDR a host:port, got %q", s)
	}
	if _, dup := b[int32(p)]; dup {
		return fmt.Errorf("listener port %d is bound twice", p)
	}
	b[int32(p)] = addr
	return nil
}

// gatewayAddresses are the -gateway-address values as status addresses.
func gatewayAddresses(values []string) []gatewayv1.GatewayStatusAddress {
	out := make([]gatewayv1.GatewayStatusAddress, 0, len(values))
	for _, v := range values {
		t := gatewayv1.HostnameAddressType
		if _, err := netip.ParseAddr(v); err == nil {
			t = gatewayv1.IPAddressType
		}
		out = append(out, gatewayv1.GatewayStatusAddress{Type: &t, Value: v})
	}
	return out
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("invalid value %q for flag -log-level: want debug, info, warn or error", s)
	}
	return l, nil
}

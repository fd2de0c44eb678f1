package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/endpointslice"
	"github.com/httproute/httproute/manifest"
	"github.com/httproute/httproute/validation"
)

// check is the check command. It loads every *.yaml and *.yml file of the
// directories (recursively) and the files it is given with the manifest
// package, which validates and defaults Gateway API objects exactly as
// the API server does, and prints every problem as
// file:line:col: kind namespace/name: field: message.
//
// Then it compiles the objects as serve would and prints what the Router
// would serve around as warnings: backendRefs, parentRefs and
// ExtensionRefs that do not resolve or are not permitted by a
// ReferenceGrant, filters the Router does not implement. Service
// backendRefs resolve over the Services and EndpointSlices of the
// manifests, as serve resolves them; when the manifests have no Service,
// Service backendRefs are not checked (a cluster resolves them).
//
// It exits 0 with a one-line summary when there is no error, 1 when there
// is, and 2 on a usage error.

// kindFlags collects -kind flags.
type kindFlags []schema.GroupVersionKind

func (k *kindFlags) String() string { return fmt.Sprint(*k) }

func (k *kindFlags) Set(s string) error {
	i := strings.LastIndexByte(s, '/')
	if i < 0 {
		return fmt.Errorf("want group/version/Kind, got %q", s)
	}
	gv, err := schema.ParseGroupVersion(s[:i])
	if err != nil || s[i+1:] == "" || gv.Version == "" {
		return fmt.Errorf("want group/version/Kind, got %q", s)
	}
	*k = append(*k, gv.WithKind(s[i+1:]))
	return nil
}

func check(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var load loadFlags
	fs.BoolVar(&load.experimental, "experimental", false, "validate against the experimental channel's CRDs")
	strict := fs.Bool("strict", false, "count warnings as errors")
	var kinds kindFlags
	fs.Var(&kinds, "kind", "accept objects of another `group/version/Kind` (repeatable); they get the metadata checks only")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: httproute check [-experimental] [-strict] [-kind group/version/Kind]... <file-or-dir>...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}

	var extra []httproute.Extension
	for _, gvk := range kinds {
		extra = append(extra, opaque(gvk))
	}
	ch := load.channel()
	m, err := manifest.Load(load.options(slog.New(slog.DiscardHandler), extra...), fs.Args()...)
	problems := flatten(err)
	for _, p := range problems {
		fmt.Fprintln(stdout, p)
	}

	cfg := routerConfig(m, &endpointslice.Resolver{}) // its Extensions are those given to the loader
	cfg.Logger = slog.New(slog.DiscardHandler)        // the problems are printed below
	if len(m.Services) == 0 {
		cfg.Services = httproute.ServiceResolverFunc(func(httproute.BackendRef) (httproute.Backend, error) {
			return httproute.Handler(http.NotFoundHandler()), nil
		})
	}
	warnings := flatten(m.Locate(validation.Warnings(cfg)))
	for _, w := range warnings {
		fmt.Fprintln(stdout, warning(w))
	}

	objects := len(cfg.Gateways) + len(cfg.HTTPRoutes) + len(cfg.ReferenceGrants) + len(cfg.Namespaces) +
		len(cfg.Secrets) + len(cfg.ConfigMaps) + len(cfg.XBackends) + len(cfg.XTelemetryPolicies) + len(cfg.Objects) +
		len(m.Services) + len(m.EndpointSlices) + len(m.GatewayClasses)
	summary := fmt.Sprintf("%d %s loaded (%s channel), %d %s, %d %s",
		objects, plural(objects, "object"), ch, len(problems), plural(len(problems), "error"),
		len(warnings), plural(len(warnings), "warning"))
	if len(m.Services) == 0 {
		summary += "; Service backendRefs not checked (no Services in the manifests)"
	}
	if len(problems) > 0 || (*strict && len(warnings) > 0) {
		fmt.Fprintln(stderr, "FAIL: "+summary)
		return 1
	}
	fmt.Fprintln(stdout, "ok: "+summary)
	return 0
}

// opaque is an extension for a kind the command knows nothing about: its
// objects are read as they are, and references to them resolve when the
// object exists.
func opaque(gvk schema.GroupVersionKind) httproute.Extension {
	exists := func(ref httproute.ObjectRef) error {
		if ref.Object == nil {
			return fmt.Errorf("%s %s/%s: %w", ref.Kind, ref.Namespace, ref.Name, httproute.ErrNotFound)
		}
		return nil
	}
	return httproute.Extension{
		Kind: gvk,
		New:  func() httproute.Object { return &unstructured.Unstructured{} },
		Filter: func(ref httproute.ObjectRef) (httproute.Filter, error) {
			return httproute.FilterFunc(func(next http.Handler) http.Handler { return next }), exists(ref)
		},
		Backend: func(ref httproute.BackendRef) (httproute.Backend, error) {
			return httproute.Handler(http.NotFoundHandler()), exists(ref.ObjectRef)
		},
	}
}

// warning prints a warning with its position first, where editors and CI
// annotations look for it.
func warning(err error) string {
	var he *httproute.Error
	if errors.As(err, &he) && he.File != "" {
		c := *he
		c.File, c.Line, c.Column = "", 0, 0
		return fmt.Sprintf("%s:%d:%d: warning: %s", he.File, he.Line, he.Column, c.Error())
	}
	return "warning: " + err.Error()
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

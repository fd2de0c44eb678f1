// Command check checks Kubernetes manifests the way a cluster with the
// Gateway API CRDs would, and the way an httproute Router would serve them,
// like a linter for people and CI pipelines:
//
//	go run ./examples/check [-experimental] [-strict] [-kind group/version/Kind]... <file-or-dir>...
//
// It loads every *.yaml and *.yml file of the directories (recursively) and
// the files it is given with the manifest package, which validates and
// defaults Gateway API objects exactly as the API server does, and prints
// every problem as file:line:col: kind namespace/name: field: message.
//
// Then it compiles the objects as a Router would and prints what the Router
// would serve around as warnings: backendRefs, parentRefs and ExtensionRefs
// that do not resolve or are not permitted by a ReferenceGrant, filters the
// Router does not implement. A Service backendRef is checked against the
// Services of the manifests; when they have none, Service backendRefs are
// not checked (the host program resolves them).
//
// Flags:
//
//	-experimental  validate against the experimental channel's CRDs (retry,
//	               sessionPersistence, ExternalAuth ...); default standard
//	-strict        count warnings as errors
//	-kind g/v/K    accept objects of another kind (repeatable); they get the
//	               metadata checks only. The kinds of this module's
//	               extension packages (directresponse, regexrewrite) are
//	               always accepted.
//
// It exits 0 with a one-line summary when there is no error, 1 when there
// is, and 2 on a usage error.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/extension/directresponse"
	"github.com/httproute/httproute/extension/regexrewrite"
	"github.com/httproute/httproute/manifest"
	"github.com/httproute/httproute/validation"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

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

// run is the command: it returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	experimental := fs.Bool("experimental", false, "validate against the experimental channel's CRDs")
	strict := fs.Bool("strict", false, "count warnings as errors")
	var kinds kindFlags
	fs.Var(&kinds, "kind", "accept objects of another `group/version/Kind` (repeatable)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: check [-experimental] [-strict] [-kind group/version/Kind]... <file-or-dir>...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}

	ch := validation.Standard
	if *experimental {
		ch = validation.Experimental
	}
	exts := []httproute.Extension{directresponse.Extension(), regexrewrite.Extension()}
	for _, gvk := range kinds {
		exts = append(exts, opaque(gvk))
	}
	m, err := manifest.Load(manifest.Options{Extensions: exts, Channel: ch}, fs.Args()...)
	problems := flatten(err)
	for _, p := range problems {
		fmt.Fprintln(stdout, p)
	}

	cfg := m.Config // its Extensions are those given to the loader
	cfg.Services = services(m)
	warnings := flatten(m.Locate(validation.Warnings(cfg)))
	for _, w := range warnings {
		fmt.Fprintln(stdout, warning(w))
	}

	objects := len(cfg.Gateways) + len(cfg.HTTPRoutes) + len(cfg.ReferenceGrants) + len(cfg.Namespaces) +
		len(cfg.Secrets) + len(cfg.ConfigMaps) + len(cfg.XBackends) + len(cfg.Objects) + len(m.Services) + len(m.GatewayClasses)
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

// services resolves Service backendRefs against the Services of the
// manifests, or resolves them all when there are none.
func services(m *manifest.Manifests) httproute.ServiceResolver {
	stand := httproute.Handler(http.NotFoundHandler())
	if len(m.Services) == 0 {
		return httproute.ServiceResolverFunc(func(httproute.BackendRef) (httproute.Backend, error) { return stand, nil })
	}
	ports := httproute.Services{}
	for _, s := range m.Services {
		for _, p := range s.Spec.Ports {
			ports[httproute.ServicePort{Namespace: s.Namespace, Name: s.Name, Port: p.Port}] = stand
		}
	}
	return ports
}

// flatten lists the problems of an error tree.
func flatten(err error) []error {
	if err == nil {
		return nil
	}
	var out []error
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		out = append(out, err)
	}
	walk(err)
	return out
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

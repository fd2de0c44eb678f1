// Package manifest loads Kubernetes manifests (multi-document YAML) into the
// typed objects of an httproute.Config.
//
// It reads the kinds a Router is built from: Gateway, HTTPRoute,
// ReferenceGrant and GatewayClass (gateway.networking.k8s.io v1, and v1beta1
// read as v1, which has the same shape), the core v1 Namespace, Secret and
// Service, and every kind an httproute.Extension registers with a New
// function. Any other apiVersion and kind is an error.
//
// Documents are read strictly, the way kubectl apply with server-side field
// validation reads them: unknown fields, values of the wrong type, duplicate
// keys, a missing apiVersion or kind and two objects with the same kind,
// namespace and name are errors. Objects without a namespace get
// "default", as kubectl gives them the namespace of its context.
//
// Then, by default, every object is validated and defaulted as the API
// server would with the Gateway API CRDs of the standard channel installed
// (see package validation; Options.Channel picks the experimental channel,
// Options.NoValidation skips this step): the objects in the Config carry
// the CRD defaults, and the problems are the API server's, with its
// messages.
//
// Every problem of every document is reported at once, each with the file,
// line and column it is about:
//
//	routes.yaml:17:7: document 1: did not find expected '-' indicator
//	routes.yaml:27:9: httproute default/httpbin: spec.rules[1].matches[0].queryParams[0].value: Invalid value: "integer": spec.rules[1].matches[0].queryParams[0].value in body must be of type string: "integer"
//
// YAML is read as YAML 1.2, except that plain scalars YAML 1.1 reads as
// booleans (yes, no, on, off, y, n and their capitalised forms) are
// booleans, as kubectl reads them: a header value written on reaches the API
// server as true, and is rejected there as it is here.
package manifest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	kjson "sigs.k8s.io/json"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/validation"
)

// Options control how manifests are read.
type Options struct {
	// Extensions are the kinds beyond the built-in ones that manifests may
	// contain. Objects of an extension kind are decoded into the value its
	// New returns and added to Config.Objects with their TypeMeta set.
	// Extensions are not added to Config.Extensions: the host program
	// builds its Config with the extensions it serves.
	Extensions []httproute.Extension
	// Channel is the Gateway API release channel whose CRDs validate and
	// default the Gateway API objects: validation.Standard (the zero
	// value) or validation.Experimental, which is needed for experimental
	// fields such as an HTTPRoute rule's retry or sessionPersistence (the
	// standard channel rejects them as unknown fields, as a cluster with
	// the standard CRDs does).
	Channel validation.Channel
	// Validator validates and defaults the objects. Nil uses a new
	// validation.New(Channel) for the call; a program that loads
	// manifests more than once should pass one Validator, which compiles
	// the CRD schemas once and does not revalidate unchanged objects.
	// When set, Channel is ignored.
	Validator *validation.Validator
	// NoValidation skips validation and defaulting by the CRDs and the
	// metadata checks. Documents are still read strictly: unknown fields
	// and values of the wrong type are errors.
	NoValidation bool
}

// Manifests are the objects read from a set of manifests.
type Manifests struct {
	// Config has the Gateways, HTTPRoutes, ReferenceGrants, Namespaces,
	// Secrets and extension Objects, in the order they were read. The
	// host program adds its hooks (Services resolver, Extensions, Logger
	// ...) before building a Router from it.
	Config httproute.Config
	// Services are the core Services of the manifests, from which a host
	// program can build its ServiceResolver.
	Services []*corev1.Service
	// GatewayClasses are read and checked but not used by the Router,
	// which serves the Gateways of one class name (Config.GatewayClassName)
	// or of all.
	GatewayClasses []*gatewayv1.GatewayClass

	// sources index where each object was read, for Locate.
	sources map[objectKey][]*source
}

// objectKey identifies an object as an *httproute.Error names it.
type objectKey struct {
	kind, namespace, name string
}

// source is where an object was read.
type source struct {
	file  string
	group string
	root  *yaml.Node
}

// A DocumentError is a problem with a document as a whole, found before it
// is known which object it holds: malformed YAML, a document that is not
// an object, a missing or malformed apiVersion or kind. Problems with an
// object's fields are *httproute.Error values instead.
type DocumentError struct {
	File string
	// Document is the 1-based index of the document in the file, counting
	// the documents that have content.
	Document int
	// Line and Column locate the problem; Column is 0 when the YAML parser
	// does not tell it.
	Line, Column int
	Message      string
}

func (e *DocumentError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
	}
	b.WriteString(": ")
	if e.Document > 0 {
		fmt.Fprintf(&b, "document %d: ", e.Document)
	}
	b.WriteString(e.Message)
	return b.String()
}

// Load reads the manifests in the given files and directories. A directory
// is read recursively, its *.yaml and *.yml files in lexical order (names
// starting with "." are skipped); files named explicitly are read whatever
// their name.
//
// Load returns what it could read even when it also returns an error: the
// error joins every problem found (*DocumentError and *httproute.Error
// values, and file system errors), and the objects of a document with a
// problem are left out.
func Load(opts Options, paths ...string) (*Manifests, error) {
	l, err := newLoader(opts)
	if err != nil {
		return &Manifests{}, err
	}
	for _, p := range paths {
		files, err := manifestFiles(p)
		if err != nil {
			l.errs = append(l.errs, err)
			continue
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				l.errs = append(l.errs, err)
				continue
			}
			l.file(f, data)
		}
	}
	return l.m, errors.Join(l.errs...)
}

// Decode reads the manifests of one stream; name is the file name that
// errors give for it. See Load for what it returns.
func Decode(opts Options, name string, r io.Reader) (*Manifests, error) {
	l, err := newLoader(opts)
	if err != nil {
		return &Manifests{}, err
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return l.m, fmt.Errorf("%s: %w", name, err)
	}
	l.file(name, data)
	return l.m, errors.Join(l.errs...)
}

// manifestFiles lists the manifest files of a path.
func manifestFiles(p string) ([]string, error) {
	info, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return []string{p}, nil
	}
	var files []string
	err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path != p && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.IsDir() && (strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
			files = append(files, path)
		}
		return nil
	})
	sort.Strings(files)
	return files, err
}

// Locate fills in the File, Line and Column of every *httproute.Error in
// err (through errors.Join trees and wrapping) that names an object read
// into m and has no position yet, from the field path of its field error:
// the line of the field, or of the deepest part of the path the manifest
// writes (a field set by a default is not in the manifest). Problems found
// later by httproute.New or Update then point at a line too. It returns
// err.
//
// Locate changes the *httproute.Error values themselves: call it before
// wrapping err with fmt.Errorf, which formats its message at once
// (errors.Join formats when asked, so joined errors show the positions).
func (m *Manifests) Locate(err error) error {
	locate(err, func(e *httproute.Error) {
		if e.File != "" {
			return
		}
		srcs := m.sources[objectKey{e.Kind, e.Namespace, e.Name}]
		if len(srcs) != 1 {
			// Unknown, or two kinds of that name in different groups.
			return
		}
		path := ""
		if e.Field != nil {
			path = e.Field.Field
		}
		n, _ := lookup(srcs[0].root, path)
		e.File, e.Line, e.Column = srcs[0].file, n.Line, n.Column
	})
	return err
}

// locate calls f for every *httproute.Error in an error tree.
func locate(err error, f func(*httproute.Error)) {
	for depth := 0; err != nil && depth < 1000; depth++ {
		if e, ok := err.(*httproute.Error); ok {
			f(e)
			return
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				locate(e, f)
			}
			return
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		default:
			return
		}
	}
}

// loader reads the documents of one Load or Decode call.
type loader struct {
	opts      Options
	kinds     map[schema.GroupVersionKind]*kind
	structure *structure
	validator *validation.Validator // nil without validation
	m         *Manifests
	// seen is where each object was first read, by group, kind,
	// namespace and name.
	seen map[seenKey]position
	errs []error
}

type seenKey struct {
	group, kind, namespace, name string
}

type position struct {
	file      string
	line, col int
}

func newLoader(opts Options) (*loader, error) {
	ks, err := kinds(opts.Extensions)
	if err != nil {
		return nil, err
	}
	v := opts.Validator
	if v == nil && !opts.NoValidation {
		v = validation.New(opts.Channel)
	}
	if opts.NoValidation {
		v = nil
	}
	return &loader{
		opts:      opts,
		kinds:     ks,
		validator: v,
		structure: newStructure(true),
		m:         &Manifests{sources: map[objectKey][]*source{}},
		seen:      map[seenKey]position{},
	}, nil
}

// file reads the documents of one file.
func (l *loader) file(name string, data []byte) {
	texts, starts := splitDocuments(data)
	index := 0
	for i, text := range texts {
		root, err := parseDocument(text)
		if err != nil {
			index++
			line, col, msg := syntaxError(text, err)
			if line > 0 {
				line += starts[i] - 1
			}
			l.errs = append(l.errs, &DocumentError{File: name, Document: index, Line: line, Column: col, Message: msg})
			continue
		}
		if root == nil {
			continue
		}
		index++
		shiftLines(root, starts[i]-1, map[*yaml.Node]bool{})
		l.document(&document{file: name, index: index, root: root})
	}
}

// docError records a problem with a whole document at a node.
func (l *loader) docError(d *document, n *yaml.Node, msg string) {
	l.errs = append(l.errs, &DocumentError{File: d.file, Document: d.index, Line: n.Line, Column: n.Column, Message: msg})
}

// objError records problems with the fields of an object, each at the
// line of its field.
func (l *loader) objError(d *document, k, ns, name, reason string, fe *field.Error) {
	n, _ := lookup(d.root, fe.Field)
	l.errs = append(l.errs, &httproute.Error{
		Kind: k, Namespace: ns, Name: name, Reason: reason, Field: fe,
		File: d.file, Line: n.Line, Column: n.Column,
	})
}

// reasonUnsupportedValue is the condition reason of problems with a
// field's value.
const reasonUnsupportedValue = string(gatewayv1.RouteReasonUnsupportedValue)

// document reads one document into the Manifests.
func (l *loader) document(d *document) {
	v, err := newConverter(d.root).value(d.root, 0)
	if err != nil {
		var ye *yamlError
		if errors.As(err, &ye) {
			l.docError(d, ye.node, ye.msg)
		} else {
			l.docError(d, d.root, err.Error())
		}
		return
	}
	obj, ok := v.(map[string]any)
	if !ok {
		l.docError(d, d.root, fmt.Sprintf("a manifest must be an object, not %s", article(jsonType(v))))
		return
	}
	gvk, ok := l.typeMeta(d, obj)
	if !ok {
		return
	}
	ns, name := identity(obj)
	k, ok := l.kinds[gvk]
	if !ok {
		fe := field.Invalid(field.NewPath("kind"), gvk.Kind, unknownKind(l.kinds, l.opts.Extensions, gvk))
		if len(servedVersions(l.kinds, gvk.Group, gvk.Kind)) > 0 {
			fe = field.Invalid(field.NewPath("apiVersion"), gvk.GroupVersion().String(), unknownKind(l.kinds, l.opts.Extensions, gvk))
		}
		l.objError(d, gvk.Kind, ns, name, string(gatewayv1.RouteReasonInvalidKind), fe)
		return
	}
	ns = defaultNamespace(obj, k.namespaced)
	duplicate := l.record(d, k, ns, name)
	// An API server drops the status of an object being created (the
	// Gateway API CRDs have a status subresource): a status, even of the
	// wrong shape, is neither checked nor kept.
	delete(obj, "status")

	// With a CRD to validate the document, its messages about values of
	// the wrong type are the API server's: the structure check only looks
	// for unknown fields, which it explains better.
	schemaChecked := false
	if l.validator != nil && k.crd {
		_, schemaChecked = l.validator.Scope(gvk)
		if !schemaChecked {
			// What the API server answers when the channel installed has
			// no CRD for the kind (XBackend is experimental-only).
			l.docError(d, d.root, fmt.Sprintf("no matches for kind %q in version %q: the %s channel has no CRD for it; use the experimental channel",
				gvk.Kind, gvk.GroupVersion(), l.validator.Channel()))
			return
		}
	}
	var errs field.ErrorList
	if name == "" && l.validator == nil {
		errs = append(errs, field.Required(field.NewPath("metadata", "name"), "name is required"))
	}
	l.structure.errs = nil
	l.structure.types = !schemaChecked
	l.structure.check(reflect.TypeOf(k.new()).Elem(), obj, nil, 0)
	errs = append(errs, l.structure.errs...)
	if l.validator != nil && !metadataErrors(errs) {
		errs = append(errs, l.validate(obj, errs)...)
	}
	for _, fe := range errs {
		l.objError(d, k.as.Kind, ns, name, reasonUnsupportedValue, fe)
	}
	if len(errs) > 0 {
		return
	}

	if duplicate {
		return // reported by record; the first object stands
	}
	typed, err := decodeTyped(obj, k)
	if err != nil {
		l.objError(d, k.as.Kind, ns, name, reasonUnsupportedValue, field.Invalid(nil, gvk.Kind, err.Error()))
		return
	}
	k.add(l.m, typed)
}

// metadataErrors reports whether the structure check found a value of the
// wrong type in the metadata, which keeps the validator from decoding it.
func metadataErrors(errs field.ErrorList) bool {
	for _, fe := range errs {
		if fe.Type != field.ErrorTypeForbidden && (fe.Field == "metadata" || strings.HasPrefix(fe.Field, "metadata.")) {
			return true
		}
	}
	return false
}

// validate validates and defaults a document in place. Unknown fields the
// structure check has already reported are not reported twice; those it
// has not are fields of the Go type that the channel's CRD does not have:
// experimental fields checked against the standard channel.
func (l *loader) validate(obj map[string]any, reported field.ErrorList) field.ErrorList {
	seen := map[string]bool{}
	for _, fe := range reported {
		if fe.Type == field.ErrorTypeForbidden {
			seen[fe.Field] = true
		}
	}
	u := &unstructured.Unstructured{Object: obj}
	var errs field.ErrorList
	for _, fe := range l.validator.Validate(u) {
		if fe.Type == field.ErrorTypeForbidden && fe.Detail == "unknown field" {
			if seen[fe.Field] {
				continue
			}
			if l.validator.Channel() == validation.Standard {
				fe.Detail = "unknown field in the standard channel; experimental fields need the experimental channel"
			}
		}
		errs = append(errs, fe)
	}
	// Validate replaced the content with the defaulted one.
	clear(obj)
	maps.Copy(obj, u.Object)
	return errs
}

// typeMeta reads the apiVersion and kind of a document.
func (l *loader) typeMeta(d *document, obj map[string]any) (schema.GroupVersionKind, bool) {
	var missing []string
	var bad bool
	str := func(key string) string {
		v, ok := obj[key]
		if !ok || v == nil || v == "" {
			missing = append(missing, key)
			return ""
		}
		s, ok := v.(string)
		if !ok {
			n, _ := lookup(d.root, key)
			l.docError(d, n, fmt.Sprintf("%s must be a string, not %s", key, article(jsonType(v))))
			bad = true
		}
		return s
	}
	apiVersion, k := str("apiVersion"), str("kind")
	if len(missing) > 0 {
		l.docError(d, d.root, strings.Join(missing, " and ")+" not set")
		return schema.GroupVersionKind{}, false
	}
	if bad {
		return schema.GroupVersionKind{}, false
	}
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		n, _ := lookup(d.root, "apiVersion")
		l.docError(d, n, fmt.Sprintf("invalid apiVersion %q", apiVersion))
		return schema.GroupVersionKind{}, false
	}
	return gv.WithKind(k), true
}

// identity returns the namespace and name a document's metadata writes,
// "" for what it does not write as strings.
func identity(obj map[string]any) (ns, name string) {
	md, _ := obj["metadata"].(map[string]any)
	ns, _ = md["namespace"].(string)
	name, _ = md["name"].(string)
	return ns, name
}

// defaultNamespace gives an object of a namespaced kind without a
// namespace the namespace "default", and removes the namespace of an
// object of a cluster-scoped kind, as kubectl and the API server do. It
// returns the namespace.
func defaultNamespace(obj map[string]any, namespaced bool) string {
	md, ok := obj["metadata"].(map[string]any)
	if !ok {
		if _, set := obj["metadata"]; set || !namespaced {
			// Not an object: the structure check reports it.
			return ""
		}
		md = map[string]any{}
		obj["metadata"] = md
	}
	if !namespaced {
		delete(md, "namespace")
		return ""
	}
	if ns, _ := md["namespace"].(string); ns != "" {
		return ns
	}
	if v, set := md["namespace"]; set && v != nil {
		if _, isString := v.(string); !isString {
			return ""
		}
	}
	md["namespace"] = "default"
	return "default"
}

// record indexes where an object was read, and reports (and returns true
// for) a second object with the same group, kind, namespace and name,
// which is left out: its own problems are still reported.
func (l *loader) record(d *document, k *kind, ns, name string) bool {
	if name == "" {
		return false
	}
	key := seenKey{k.as.Group, k.as.Kind, ns, name}
	n, _ := lookup(d.root, "metadata.name")
	here := position{d.file, n.Line, n.Column}
	if first, ok := l.seen[key]; ok {
		fe := field.Duplicate(field.NewPath("metadata", "name"), name)
		fe.Detail = fmt.Sprintf("%s %s/%s is already defined at %s:%d:%d", k.as.Kind, ns, name, first.file, first.line, first.col)
		l.errs = append(l.errs, &httproute.Error{
			Kind: k.as.Kind, Namespace: ns, Name: name, Reason: reasonUnsupportedValue, Field: fe,
			File: here.file, Line: here.line, Column: here.col,
		})
		return true
	}
	l.seen[key] = here
	l.m.sources[objectKey{k.as.Kind, ns, name}] = append(l.m.sources[objectKey{k.as.Kind, ns, name}], &source{file: d.file, group: k.as.Group, root: d.root})
	return false
}

// decodeTyped decodes a checked document into its Go type, strictly, and
// sets its TypeMeta.
func decodeTyped(obj map[string]any, k *kind) (runtime.Object, error) {
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	out := k.new()
	strict, err := kjson.UnmarshalStrict(data, out, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err != nil {
		return nil, err
	}
	if len(strict) > 0 {
		return nil, errors.Join(strict...)
	}
	out.GetObjectKind().SetGroupVersionKind(k.as)
	if s, ok := out.(*corev1.Secret); ok && len(s.StringData) > 0 {
		// The API server merges stringData into data on write.
		if s.Data == nil {
			s.Data = map[string][]byte{}
		}
		keys := make([]string, 0, len(s.StringData))
		for key := range s.StringData {
			keys = append(keys, key)
		}
		slices.Sort(keys)
		for _, key := range keys {
			s.Data[key] = []byte(s.StringData[key])
		}
		s.StringData = nil
	}
	return out, nil
}

// article returns a JSON type name with its indefinite article.
func article(t string) string {
	switch t {
	case "object", "array", "integer":
		return "an " + t
	case "null":
		return "null"
	default:
		return "a " + t
	}
}

// Package manifest loads Kubernetes manifests (multi-document YAML) into the
// typed objects of an httproute.Config.
//
// It reads the kinds a Router is built from: Gateway, HTTPRoute,
// ReferenceGrant and GatewayClass (gateway.networking.k8s.io v1, and v1beta1
// read as v1, which has the same shape), GRPCRoute, ListenerSet and
// BackendTLSPolicy (v1), the core v1 Namespace, Secret, ConfigMap and Service, the
// discovery.k8s.io/v1 EndpointSlice, and every kind an httproute.Extension
// registers with a New function. Any other apiVersion and kind is an error.
//
// Documents are read strictly, the way kubectl apply with server-side field
// validation reads them: unknown fields, values of the wrong type, a
// missing apiVersion or kind are errors. Objects without a namespace get
// "default", as kubectl gives them the namespace of its context; objects of
// a cluster-scoped kind lose theirs, and an object with a generateName and
// no name is named as the API server would name it (see
// validation.GenerateName). Two more things are errors that kubectl lets
// through: a key written twice in one mapping (kubectl keeps the last) and
// two objects with the same kind, namespace and name (the last one applied
// would replace the first).
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
// Keys and values are read as kubectl reads them (YAML 1.1, through
// sigs.k8s.io/yaml), so that the objects are those kubectl apply would
// send: plain yes, no, on, off, y, n and their capitalised forms are
// booleans (a header value written on reaches the API server as true, and
// is rejected there as here; a key written on is the key "true"), 0755 is
// an octal integer, !!binary scalars are decoded, keys that are numbers or
// booleans become their JSON text, tags on mappings and sequences are
// ignored, and a merge key ("<<") applies where it stands, what comes
// after it winning.
//
// Options.MaxBytes and Options.MaxDocuments bound what one call reads;
// empty documents ("---" lines, comments) cost next to nothing.
package manifest

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"maps"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
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
	// New returns and added to Config.Objects with their TypeMeta set. The
	// Extensions are also the returned Config's Extensions, so that a
	// Router built from it serves them: an extension is registered once,
	// here (httproutetest and Watcher take Options too).
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
	// MaxBytes bounds the bytes one Load, LoadFS or Decode reads, all
	// files together. Zero means DefaultMaxBytes; a negative value, no
	// bound. Past it reading stops, with an error that wraps ErrLimit.
	MaxBytes int64
	// MaxDocuments bounds the documents with content that one call
	// reads, all files together (empty documents are not counted). Zero
	// means DefaultMaxDocuments; a negative value, no bound. Past it
	// reading stops, with an error that wraps ErrLimit.
	MaxDocuments int
}

// Defaults of the limits of Options, generous for real configurations: a
// few thousand HTTPRoutes take a few megabytes.
const (
	DefaultMaxBytes     = 64 << 20
	DefaultMaxDocuments = 100_000
)

// ErrLimit is wrapped by the error of a call that stopped reading at
// Options.MaxBytes or Options.MaxDocuments.
var ErrLimit = errors.New("manifest: limit reached")

// Manifests are the objects read from a set of manifests.
type Manifests struct {
	// Config has the Gateways, HTTPRoutes, GRPCRoutes, ListenerSets,
	// BackendTLSPolicies, ReferenceGrants, Namespaces, Secrets,
	// ConfigMaps and extension Objects, in the order they were read. The
	// host program adds its hooks (Services resolver, Extensions, Logger
	// ...) before building a Router from it.
	Config httproute.Config
	// Services are the core Services of the manifests, from which a host
	// program can build its ServiceResolver.
	Services []*corev1.Service
	// EndpointSlices are the discovery.k8s.io/v1 EndpointSlices of the
	// manifests: with Services, what an endpointslice.Resolver turns into
	// Upstreams, as in a cluster.
	EndpointSlices []*discoveryv1.EndpointSlice
	// GatewayClasses are read and checked but not used by the Router,
	// which serves the Gateways of one class name (Config.GatewayClassName)
	// or of all.
	GatewayClasses []*gatewayv1.GatewayClass

	// sources index where each object was read, for Locate.
	sources map[objectKey][]*source
	// digest identifies the files read and their content, so that a
	// Watcher can tell an unchanged configuration; objects counts the
	// objects read, whatever their kind.
	digest  [sha256.Size]byte
	objects int
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
// values, *validation.UnknownFieldError values for unknown fields, and
// file system errors), and the objects of a document with a problem are
// left out.
func Load(opts Options, paths ...string) (*Manifests, error) {
	l, err := newLoader(opts)
	if err != nil {
		return &Manifests{}, err
	}
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			l.errs = append(l.errs, err)
			continue
		}
		if !info.IsDir() {
			l.open(p, func() (fs.File, error) { return os.Open(p) })
			continue
		}
		l.tree(os.DirFS(p), ".", func(name string) string { return filepath.Join(p, filepath.FromSlash(name)) })
	}
	return l.finish()
}

// LoadFS reads the manifests in the given files and directories of fsys
// (an embed.FS, for one), as Load reads them from the operating system's
// file system. Paths are slash-separated and unrooted, as fs.ValidPath
// wants them ("." is the root of fsys); errors name files by these paths.
func LoadFS(opts Options, fsys fs.FS, paths ...string) (*Manifests, error) {
	l, err := newLoader(opts)
	if err != nil {
		return &Manifests{}, err
	}
	for _, p := range paths {
		info, err := fs.Stat(fsys, p)
		if err != nil {
			l.errs = append(l.errs, err)
			continue
		}
		if !info.IsDir() {
			l.open(p, func() (fs.File, error) { return fsys.Open(p) })
			continue
		}
		l.tree(fsys, p, func(name string) string { return name })
	}
	return l.finish()
}

// Decode reads the manifests of one stream; name is the file name that
// errors give for it. See Load for what it returns.
func Decode(opts Options, name string, r io.Reader) (*Manifests, error) {
	l, err := newLoader(opts)
	if err != nil {
		return &Manifests{}, err
	}
	l.read(name, r)
	return l.finish()
}

// tree reads the manifest files of a directory of fsys, recursively;
// display gives the name errors use for a path of fsys.
func (l *loader) tree(fsys fs.FS, root string, display func(string) string) {
	var files []string
	err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != root && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		l.errs = append(l.errs, displayPath(err, display))
	}
	// By full name, as a sorted listing shows them.
	slices.SortFunc(files, func(a, b string) int { return strings.Compare(display(a), display(b)) })
	for _, f := range files {
		l.open(display(f), func() (fs.File, error) { return fsys.Open(f) })
	}
}

// displayPath names the file of a file system error as errors name it.
func displayPath(err error, display func(string) string) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		pe.Path = display(pe.Path)
	}
	return err
}

// open opens one file and reads it.
func (l *loader) open(name string, open func() (fs.File, error)) {
	if l.stopped {
		return
	}
	f, err := open()
	if err != nil {
		l.errs = append(l.errs, displayPath(err, func(string) string { return name }))
		return
	}
	defer f.Close()
	l.read(name, f)
}

// read reads one file within the limits and loads its documents.
func (l *loader) read(name string, f io.Reader) {
	if l.stopped {
		return
	}
	// One byte past the bound tells a stream that passes it; saturated,
	// for a bound near math.MaxInt64.
	limit := int64(math.MaxInt64)
	if rest := l.maxBytes - l.bytes; l.maxBytes >= 0 && rest < math.MaxInt64 {
		limit = rest + 1
	}
	data, err := readAll(f, limit)
	if err != nil {
		l.errs = append(l.errs, fmt.Errorf("%s: %w", name, err))
		return
	}
	l.bytes += int64(len(data))
	if l.maxBytes >= 0 && l.bytes > l.maxBytes {
		l.stop(fmt.Errorf("%w: %s: the manifests are larger than Options.MaxBytes (%d bytes); raise it to load them", ErrLimit, name, l.maxBytes))
		return
	}
	fmt.Fprintf(l.digest, "%d:%s%d:", len(name), name, len(data))
	l.digest.Write(data)
	l.file(name, data)
}

// readAll reads r to its end or to limit bytes, in one buffer of the size
// r tells (a file's size, a bytes.Reader's length) when it tells one.
func readAll(r io.Reader, limit int64) ([]byte, error) {
	size := int64(-1)
	switch x := r.(type) {
	case interface{ Len() int }:
		size = int64(x.Len())
	case fs.File:
		if info, err := x.Stat(); err == nil && info.Mode().IsRegular() {
			size = info.Size()
		}
	}
	if size < 0 || size >= limit {
		return io.ReadAll(io.LimitReader(r, limit))
	}
	// One byte more than the size, to see the end without growing.
	buf := make([]byte, 0, size+1)
	lr := io.LimitReader(r, limit)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// stop records that a limit was reached and stops reading.
func (l *loader) stop(err error) {
	l.errs = append(l.errs, err)
	l.stopped = true
}

// finish returns what the loader read and its problems.
func (l *loader) finish() (*Manifests, error) {
	l.digest.Sum(l.m.digest[:0])
	return l.m, errors.Join(l.errs...)
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

	// The limits (negative: none), what was read against them, and
	// whether one was reached.
	maxBytes     int64
	maxDocuments int
	bytes        int64
	documents    int
	stopped      bool
	digest       hash.Hash
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
	l := &loader{
		opts:         opts,
		kinds:        ks,
		validator:    v,
		structure:    newStructure(true),
		m:            &Manifests{sources: map[objectKey][]*source{}},
		seen:         map[seenKey]position{},
		maxBytes:     opts.MaxBytes,
		maxDocuments: opts.MaxDocuments,
		digest:       sha256.New(),
	}
	l.m.Config.Extensions = slices.Clone(opts.Extensions)
	if l.maxBytes == 0 {
		l.maxBytes = DefaultMaxBytes
	}
	if l.maxDocuments == 0 {
		l.maxDocuments = DefaultMaxDocuments
	}
	return l, nil
}

// file reads the documents of one file. An empty document is skipped
// before it is parsed.
func (l *loader) file(name string, data []byte) {
	index := 0
	for c := range splitDocuments(data) {
		if c.blank {
			continue
		}
		if l.maxDocuments >= 0 && l.documents >= l.maxDocuments {
			l.stop(fmt.Errorf("%w: %s:%d: more documents than Options.MaxDocuments (%d); raise it to load them", ErrLimit, name, c.line, l.maxDocuments))
			return
		}
		root, err := parseDocument(c.text)
		if err != nil {
			index++
			l.documents++
			line, col, msg := syntaxError(c.text, err)
			if line > 0 {
				line += c.line - 1
			}
			l.errs = append(l.errs, &DocumentError{File: name, Document: index, Line: line, Column: col, Message: msg})
			continue
		}
		if root == nil || isNull(root) {
			// Comments, or an explicit null, which kubectl skips.
			continue
		}
		index++
		l.documents++
		shiftLines(root, c.line-1, map[*yaml.Node]bool{})
		l.document(&document{file: name, index: index, root: root})
	}
}

// isNull reports whether a document's top-level node is a null scalar.
func isNull(root *yaml.Node) bool {
	if root.Kind != yaml.ScalarNode {
		return false
	}
	v, err := readScalar(root)
	return err == nil && v == nil
}

// docError records a problem with a whole document at a node.
func (l *loader) docError(d *document, n *yaml.Node, msg string) {
	l.errs = append(l.errs, &DocumentError{File: d.file, Document: d.index, Line: n.Line, Column: n.Column, Message: msg})
}

// objError records a problem with a field of an object, at the line of
// its field.
func (l *loader) objError(d *document, k, ns, name, reason string, fe *field.Error) {
	l.errs = append(l.errs, l.objectError(d, k, ns, name, reason, fe))
}

// objectError returns a problem with a field of an object, at the line of
// its field.
func (l *loader) objectError(d *document, k, ns, name, reason string, fe *field.Error) *httproute.Error {
	n, _ := lookup(d.root, fe.Field)
	return &httproute.Error{
		Kind: k, Namespace: ns, Name: name, Reason: reason, Field: fe,
		File: d.file, Line: n.Line, Column: n.Column,
	}
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
	// Named first, as the API server names an object on create; the seed
	// keeps the name from one load to the next.
	validation.NameGenerated(obj, []byte(d.file+"\x00"+strconv.Itoa(d.index)))
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
		errs = append(errs, field.Required(field.NewPath("metadata", "name"), "name or generateName is required"))
	}
	l.structure.reset(!schemaChecked)
	l.structure.check(reflect.TypeOf(k.new()).Elem(), obj, nil, 0)
	errs = append(errs, l.structure.errs...)
	if l.validator != nil && !metadataErrors(errs) {
		errs = append(errs, l.validate(obj)...)
	}
	if l.unknownFields(d, k.as.Kind, ns, name, errs) {
		return
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
	l.m.objects++
}

// unknownFields reports the fields of a document that its kind does not
// have, each once, and reports whether there were any. The API server
// refuses such a document while decoding it, with a strict decoding error
// naming those fields and nothing else: the other problems are not
// reported either. The structure check, which knows the Go type, hints at
// the closest field name; a field it did not flag is one the Go type has
// and the channel's CRD does not.
func (l *loader) unknownFields(d *document, k, ns, name string, errs field.ErrorList) bool {
	seen := map[string]bool{}
	for _, fe := range errs {
		if !validation.IsUnknownField(fe) || seen[fe.Field] {
			continue
		}
		seen[fe.Field] = true
		hint, flagged := l.structure.hints[fe.Field]
		if !flagged && l.validator != nil {
			hint = l.validator.UnknownFieldHint()
		}
		l.errs = append(l.errs, &validation.UnknownFieldError{Err: l.objectError(d, k, ns, name, reasonUnsupportedValue, fe), Hint: hint})
	}
	return len(seen) > 0
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

// validate validates and defaults a document in place.
func (l *loader) validate(obj map[string]any) field.ErrorList {
	u := &unstructured.Unstructured{Object: obj}
	errs := l.validator.Validate(u)
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

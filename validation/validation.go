// Package validation validates and defaults Gateway API objects exactly as
// a Kubernetes API server does with the gateway-api CRDs installed, so that
// an embedded Router rejects what kubectl apply would have rejected, with
// the same field paths and messages, and serves objects with the same
// defaults.
//
// It uses the API server's own machinery (k8s.io/apiextensions-apiserver):
// the structural OpenAPI schema (types, enums, patterns, lengths, item
// limits, required fields), list-type uniqueness (x-kubernetes-list-type
// set and map), the CEL rules of x-kubernetes-validations, CRD defaulting,
// pruning of unknown fields (reported alone, as the strict decoding error
// with which the API server refuses such an object before validating it)
// and the generic metadata checks (the name, generated from generateName
// when there is none, is a DNS subdomain, the namespace a DNS label,
// labels and annotations are well formed). The CRDs are those of the sigs.k8s.io/gateway-api version in
// go.mod, copied into this package by hack/update-crds.sh.
//
// # Channels
//
// Objects are checked against the CRDs of one release channel. Standard,
// the default, knows the generally available fields and kinds; a standard
// API server rejects experimental fields such as an HTTPRoute rule's retry
// or sessionPersistence as unknown fields. Experimental knows both. Pick
// the channel your cluster would have installed: validation.New(Standard)
// or validation.New(Experimental); the manifest loader takes it as
// manifest.Options.Channel, and the httproute binary (cmd/httproute) as
// its -experimental flag.
//
// # Beyond the API server
//
// On top of the CRD rules, Validate reports what the API server cannot
// know but the Router needs: regular expressions (path, header and query
// parameter RegularExpression matches) that Go's RE2 engine cannot
// compile, and hostnames (of routes and listeners) that are IP addresses,
// which the spec excludes and the CRD patterns let through.
// References between objects (parentRefs, backendRefs, ExtensionRefs,
// ReferenceGrants, certificate Secrets) are not checked here object by
// object: References reports them for a whole Config, as the Router
// would, and they are warnings, because a Router serves around them.
//
// Objects of kinds that have no CRD in the channel (core Namespaces,
// Secrets and Services, extension kinds) get the generic metadata checks
// only.
//
// # Cost
//
// Validating an HTTPRoute costs about a millisecond or more of CPU, most
// of it in the CEL rules. A Validator compiles a kind's schema and rules
// once, on first use, and remembers the outcome for objects it has already
// seen (by a hash of their content), so that revalidating an unchanged
// Config on every Router Update is cheap. Keep one Validator per channel
// for the life of the program.
package validation

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	structurallisttype "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	schemaobjectmeta "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	metavalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"
	xv1alpha1 "sigs.k8s.io/gateway-api/apisx/v1alpha1"
	kjson "sigs.k8s.io/json"

	"github.com/httproute/httproute"
)

// A Validator validates and defaults objects against the CRDs of one
// channel. It is safe for concurrent use. The CRDs are parsed on first
// use, and each kind's schema and CEL rules are compiled the first time an
// object of that kind is validated.
type Validator struct {
	channel Channel

	once  sync.Once
	index map[schema.GroupVersionKind]*crdVersion
	err   error

	mu    sync.Mutex
	cache map[[sha256.Size]byte]*outcome
}

// outcome is the result of validating one object: the problems and the
// object after defaulting.
type outcome struct {
	errs      field.ErrorList
	defaulted map[string]any
}

// maxCache bounds the outcomes a Validator remembers. When it is full it
// forgets them all, which costs one revalidation of each object.
const maxCache = 8192

// New returns a Validator for a channel.
func New(ch Channel) *Validator {
	return &Validator{channel: ch, cache: map[[sha256.Size]byte]*outcome{}}
}

// Channel returns the channel v validates against.
func (v *Validator) Channel() Channel { return v.channel }

func (v *Validator) crds() (map[schema.GroupVersionKind]*crdVersion, error) {
	v.once.Do(func() {
		v.index, v.err = readCRDs(v.channel)
	})
	return v.index, v.err
}

// Kinds returns the kinds and versions the channel's CRDs serve, sorted.
func (v *Validator) Kinds() []schema.GroupVersionKind {
	idx, err := v.crds()
	if err != nil {
		return nil
	}
	return kinds(idx)
}

// Scope reports whether the channel has a CRD serving gvk, and if so
// whether its objects are namespaced.
func (v *Validator) Scope(gvk schema.GroupVersionKind) (namespaced, ok bool) {
	idx, err := v.crds()
	if err != nil {
		return false, false
	}
	c, ok := idx[gvk]
	if !ok {
		return false, false
	}
	return c.namespaced, true
}

// Validate defaults obj in place and validates it, as the API server would
// on create, followed by the library's own checks (see the package doc).
// It returns the problems with field paths from the object's root, in the
// API server's words, sorted by field path.
//
// obj is either a typed object (*gatewayv1.HTTPRoute, ...), whose kind is
// that of its TypeMeta or else of its Go type, or an
// *unstructured.Unstructured with apiVersion and kind set and numbers
// decoded as int64 (as the manifest loader and the API server's decoder
// produce them). An object of a namespaced kind without a namespace is put
// in "default", as kubectl does; an object of a cluster-scoped kind loses
// its namespace, as the API server clears it. An object with a
// generateName and no name is named as the API server names it (see
// GenerateName) before it is validated, so that a generateName it cannot
// use is reported on metadata.generateName and on the generated
// metadata.name, in the server's words. The status of obj is neither
// validated nor changed (the API server ignores it on create).
//
// Fields the schema does not know are reported alone (IsUnknownField
// tells them): the API server refuses such an object while decoding it,
// with a strict decoding error, and checks nothing else.
func (v *Validator) Validate(obj runtime.Object) field.ErrorList {
	errs, err := v.validate(obj)
	if err != nil {
		return field.ErrorList{field.InternalError(nil, err)}
	}
	return errs
}

func (v *Validator) validate(obj runtime.Object) (field.ErrorList, error) {
	if obj == nil || (reflect.ValueOf(obj).Kind() == reflect.Pointer && reflect.ValueOf(obj).IsNil()) {
		return nil, errors.New("validation: nil object")
	}
	idx, err := v.crds()
	if err != nil {
		return nil, err
	}
	u, typed := obj.(*unstructured.Unstructured)
	gvk := obj.GetObjectKind().GroupVersionKind()
	if !typed && gvk.Kind == "" {
		gvk = goKind(obj)
	}
	var content map[string]any
	if typed {
		if u.Object == nil {
			return nil, errors.New("validation: unstructured object without content")
		}
		// Unstructured content written in Go may hold int, int32, float32
		// ... where JSON decoding gives int64 and float64: normalize them,
		// as the API server only ever sees decoded JSON.
		norm, err := normalizeJSON(u.Object, nil)
		if err != nil {
			return nil, err
		}
		content = norm.(map[string]any)
	} else {
		content, err = toContent(obj)
		if err != nil {
			return nil, err
		}
		if gvk.Kind != "" {
			content["apiVersion"], content["kind"] = gvk.GroupVersion().String(), gvk.Kind
		}
	}

	crd := idx[gvk]
	if crd == nil && (gvk.Group == gatewayv1.GroupName || gvk.Group == httproute.XBackendGroup) {
		// What the API server answers for a Gateway API kind the channel
		// installed has no CRD for (XBackend is experimental-only).
		return field.ErrorList{field.Invalid(field.NewPath("kind"), gvk.Kind, fmt.Sprintf(
			"no matches for kind %q in version %q: the %s channel has no CRD for it; use the experimental channel", gvk.Kind, gvk.GroupVersion(), v.channel))}, nil
	}
	namespaced := true
	if crd != nil {
		namespaced = crd.namespaced
	} else if gvk.Group == "" && gvk.Kind == "Namespace" {
		namespaced = false
	}
	setNamespace(content, namespaced)

	// The API server drops the status of a new object; so does the
	// validation, and it is put back afterwards.
	status, hasStatus := content["status"]
	delete(content, "status")

	key := hashContent(gvk, content)
	out := v.cached(key)
	if out == nil {
		out = &outcome{}
		work := runtime.DeepCopyJSON(content)
		NameGenerated(work, key[:])
		if crd != nil {
			if err := crd.compile(); err != nil {
				return nil, err
			}
			out.errs = crd.validate(work)
		} else {
			out.errs = metadataOnly(work, gvk, namespaced)
		}
		if !slices.ContainsFunc(out.errs, IsUnknownField) {
			out.errs = append(out.errs, libraryChecks(gvk, work)...)
		}
		out.errs = sortErrors(out.errs)
		out.defaulted = work
		v.store(key, out)
	}

	result := runtime.DeepCopyJSON(out.defaulted)
	if hasStatus {
		result["status"] = status
	}
	if typed {
		u.Object = result
	} else if err := fromContent(result, obj); err != nil {
		return nil, err
	}
	errs := make(field.ErrorList, len(out.errs))
	for i, e := range out.errs {
		c := *e
		errs[i] = &c
	}
	return errs, nil
}

func (v *Validator) cached(key [sha256.Size]byte) *outcome {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.cache[key]
}

func (v *Validator) store(key [sha256.Size]byte, out *outcome) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.cache) >= maxCache {
		clear(v.cache)
	}
	v.cache[key] = out
}

// hashContent identifies an object's kind and content for the cache. The
// encoding tags every value with its type and writes strings byte for byte,
// so that int64(80) and float64(80), or two different invalid UTF-8
// strings, never share a cache entry (JSON would encode them alike).
func hashContent(gvk schema.GroupVersionKind, content map[string]any) [sha256.Size]byte {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n", gvk)
	hashValue(h, content)
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

func hashValue(w io.Writer, v any) {
	switch x := v.(type) {
	case nil:
		io.WriteString(w, "n")
	case bool:
		fmt.Fprintf(w, "b%t", x)
	case int64:
		fmt.Fprintf(w, "i%d;", x)
	case float64:
		fmt.Fprintf(w, "f%x;", math.Float64bits(x))
	case string:
		fmt.Fprintf(w, "s%d:", len(x))
		io.WriteString(w, x)
	case []any:
		fmt.Fprintf(w, "a%d[", len(x))
		for _, e := range x {
			hashValue(w, e)
		}
		io.WriteString(w, "]")
	case map[string]any:
		fmt.Fprintf(w, "m%d{", len(x))
		for _, k := range slices.Sorted(maps.Keys(x)) {
			fmt.Fprintf(w, "%d:", len(k))
			io.WriteString(w, k)
			hashValue(w, x[k])
		}
		io.WriteString(w, "}")
	default:
		// normalizeJSON leaves no other type.
		fmt.Fprintf(w, "?%T%v;", x, x)
	}
}

// normalizeJSON returns a deep copy of v with Go numbers converted to the
// types JSON decoding gives (int64 for integers, float64 otherwise), or an
// error naming the field path of a value JSON cannot hold.
func normalizeJSON(v any, path []string) (any, error) {
	switch x := v.(type) {
	case nil, bool, string, int64, float64:
		return x, nil
	case int:
		return int64(x), nil
	case int8:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case uint8:
		return int64(x), nil
	case uint16:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case uint:
		if uint64(x) > math.MaxInt64 {
			return nil, fmt.Errorf("validation: %s: integer %d does not fit int64", strings.Join(path, "."), x)
		}
		return int64(x), nil
	case uint64:
		if x > math.MaxInt64 {
			return nil, fmt.Errorf("validation: %s: integer %d does not fit int64", strings.Join(path, "."), x)
		}
		return int64(x), nil
	case float32:
		return float64(x), nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			n, err := normalizeJSON(e, append(path, fmt.Sprintf("[%d]", i)))
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			n, err := normalizeJSON(e, append(path, k))
			if err != nil {
				return nil, err
			}
			out[k] = n
		}
		return out, nil
	default:
		return nil, fmt.Errorf("validation: %s: a %T cannot be part of an object's JSON content", strings.Join(path, "."), x)
	}
}

// validate defaults and validates an object's content, the steps of the
// API server's create path for custom resources in order: decoding with
// unknown-field tracking and pruning (unknown fields end it there, as a
// strict decoding error ends the request), defaulting, metadata coercion,
// then the strategy's validation (type and object metadata, OpenAPI
// schema, embedded metadata, list types, CEL rules unless a blocking error
// makes them moot).
func (c *crdVersion) validate(obj map[string]any) field.ErrorList {
	var errs field.ErrorList
	_, _, unknownMeta, err := schemaobjectmeta.GetObjectMetaWithOptions(obj, schemaobjectmeta.ObjectMetaOptions{ReturnUnknownFieldPaths: true})
	if err != nil {
		return field.ErrorList{field.Invalid(field.NewPath("metadata"), "", err.Error())}
	}
	unknown := structuralpruning.PruneWithOptions(obj, c.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
	if len(unknownMeta)+len(unknown) > 0 {
		// The API server's decoder refuses the object with a strict
		// decoding error: nothing is validated.
		for _, p := range append(unknownMeta, unknown...) {
			errs = append(errs, UnknownField(field.NewPath(p)))
		}
		return errs
	}
	structuraldefaulting.PruneNonNullableNullsWithoutDefaults(obj, c.structural)
	structuraldefaulting.Default(obj, c.structural)
	if fe := schemaobjectmeta.Coerce(nil, obj, c.structural, false, false); fe != nil {
		return append(errs, fe)
	}

	u := &unstructured.Unstructured{Object: obj}
	errs = append(errs, metavalidation.ValidateObjectMetaAccessor(u, c.namespaced, metavalidation.NameIsDNSSubdomain, field.NewPath("metadata"))...)
	errs = append(errs, apiservervalidation.ValidateCustomResource(nil, obj, c.schema)...)
	errs = append(errs, schemaobjectmeta.Validate(context.Background(), nil, obj, c.structural, false)...)
	errs = append(errs, structurallisttype.ValidateListSetsAndMaps(nil, c.structural, obj)...)
	if c.cel != nil {
		if blocked := blockingError(errs); blocked != nil {
			errs = append(errs, blocked)
		} else {
			celErrs, _ := c.cel.Validate(context.Background(), nil, c.structural, obj, nil, celconfig.RuntimeCELCostBudget)
			errs = append(errs, celErrs...)
		}
	}
	return errs
}

// blockingError returns the error the API server adds instead of running
// the CEL rules when the object already failed in a way that could make
// them fail to evaluate.
func blockingError(errs field.ErrorList) *field.Error {
	for _, e := range errs {
		switch e.Type {
		case field.ErrorTypeNotSupported, field.ErrorTypeRequired, field.ErrorTypeTooLong, field.ErrorTypeTooMany, field.ErrorTypeTypeInvalid:
			return field.Invalid(nil, nil, "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation")
		}
	}
	return nil
}

// sortErrors orders problems by field path, keeping the order of those on
// the same path, and the API server's note that CEL rules were skipped
// last. The API server's own order is partly that of Go map iteration.
func sortErrors(errs field.ErrorList) field.ErrorList {
	slices.SortStableFunc(errs, func(a, b *field.Error) int {
		if skipped(a) != skipped(b) {
			if skipped(a) {
				return 1
			}
			return -1
		}
		return strings.Compare(a.Field, b.Field)
	})
	return errs
}

// skipped reports whether e is the API server's note that the CEL rules
// were not run.
func skipped(e *field.Error) bool {
	return e.Field == "<nil>" && e.BadValue == nil && e.Type == field.ErrorTypeInvalid
}

// metadataOnly validates the metadata of an object of a kind without a
// CRD in the channel. Core kinds name their objects as the API server
// requires: a Namespace's name is a DNS label, a Service's a DNS-1035
// label, anything else's a DNS subdomain.
func metadataOnly(obj map[string]any, gvk schema.GroupVersionKind, namespaced bool) field.ErrorList {
	u := &unstructured.Unstructured{Object: obj}
	if _, _, _, err := schemaobjectmeta.GetObjectMetaWithOptions(obj, schemaobjectmeta.ObjectMetaOptions{}); err != nil {
		return field.ErrorList{field.Invalid(field.NewPath("metadata"), "", err.Error())}
	}
	name := metavalidation.NameIsDNSSubdomain
	if gvk.Group == "" {
		switch gvk.Kind {
		case "Namespace":
			name = metavalidation.ValidateNamespaceName
		case "Service":
			name = metavalidation.NameIsDNS1035Label
		}
	}
	return metavalidation.ValidateObjectMetaAccessor(u, namespaced, name, field.NewPath("metadata"))
}

// setNamespace puts an object of a namespaced kind without a namespace in
// "default", as kubectl does, and clears the namespace of an object of a
// cluster-scoped kind, as the API server does.
func setNamespace(obj map[string]any, namespaced bool) {
	md, ok := obj["metadata"].(map[string]any)
	if !ok {
		if _, set := obj["metadata"]; set || !namespaced {
			return
		}
		md = map[string]any{}
		obj["metadata"] = md
	}
	if !namespaced {
		delete(md, "namespace")
		return
	}
	if ns, _ := md["namespace"].(string); ns == "" {
		if v, set := md["namespace"]; !set || v == nil || v == "" {
			md["namespace"] = "default"
		}
	}
}

// goKinds are the kinds of the Go types a Config holds, for typed objects
// whose TypeMeta is empty (as objects built in Go usually are).
var goKinds = map[reflect.Type]schema.GroupVersionKind{
	reflect.TypeFor[gatewayv1.Gateway]():             gatewayv1.SchemeGroupVersion.WithKind("Gateway"),
	reflect.TypeFor[gatewayv1.HTTPRoute]():           gatewayv1.SchemeGroupVersion.WithKind("HTTPRoute"),
	reflect.TypeFor[gatewayv1.ReferenceGrant]():      gatewayv1.SchemeGroupVersion.WithKind("ReferenceGrant"),
	reflect.TypeFor[gatewayv1.GatewayClass]():        gatewayv1.SchemeGroupVersion.WithKind("GatewayClass"),
	reflect.TypeFor[gatewayv1.GRPCRoute]():           gatewayv1.SchemeGroupVersion.WithKind("GRPCRoute"),
	reflect.TypeFor[gatewayv1.BackendTLSPolicy]():    gatewayv1.SchemeGroupVersion.WithKind("BackendTLSPolicy"),
	reflect.TypeFor[gatewayv1.ListenerSet]():         gatewayv1.SchemeGroupVersion.WithKind("ListenerSet"),
	reflect.TypeFor[gatewayv1.TLSRoute]():            gatewayv1.SchemeGroupVersion.WithKind("TLSRoute"),
	reflect.TypeFor[gatewayv1.TCPRoute]():            gatewayv1.SchemeGroupVersion.WithKind("TCPRoute"),
	reflect.TypeFor[gatewayv1.UDPRoute]():            gatewayv1.SchemeGroupVersion.WithKind("UDPRoute"),
	reflect.TypeFor[xv1alpha1.XBackend]():            xv1alpha1.SchemeGroupVersion.WithKind("XBackend"),
	reflect.TypeFor[xv1alpha1.XTelemetryPolicy]():    xv1alpha1.SchemeGroupVersion.WithKind("XTelemetryPolicy"),
	reflect.TypeFor[gatewayv1beta1.Gateway]():        gatewayv1beta1.SchemeGroupVersion.WithKind("Gateway"),
	reflect.TypeFor[gatewayv1beta1.HTTPRoute]():      gatewayv1beta1.SchemeGroupVersion.WithKind("HTTPRoute"),
	reflect.TypeFor[gatewayv1beta1.GatewayClass]():   gatewayv1beta1.SchemeGroupVersion.WithKind("GatewayClass"),
	reflect.TypeFor[gatewayv1beta1.ReferenceGrant](): gatewayv1beta1.SchemeGroupVersion.WithKind("ReferenceGrant"),
	reflect.TypeFor[corev1.Namespace]():              corev1.SchemeGroupVersion.WithKind("Namespace"),
	reflect.TypeFor[corev1.Secret]():                 corev1.SchemeGroupVersion.WithKind("Secret"),
	reflect.TypeFor[corev1.Service]():                corev1.SchemeGroupVersion.WithKind("Service"),
	reflect.TypeFor[corev1.ConfigMap]():              corev1.SchemeGroupVersion.WithKind("ConfigMap"),
}

func goKind(obj runtime.Object) schema.GroupVersionKind {
	t := reflect.TypeOf(obj)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return goKinds[t]
}

// toContent returns the JSON form of a typed object, with integers as
// int64.
func toContent(obj runtime.Object) (map[string]any, error) {
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("validation: encoding %T: %w", obj, err)
	}
	var content map[string]any
	if err := kjson.UnmarshalCaseSensitivePreserveInts(data, &content); err != nil {
		return nil, fmt.Errorf("validation: decoding %T: %w", obj, err)
	}
	return content, nil
}

// fromContent writes the defaulted content back into a typed object.
func fromContent(content map[string]any, obj runtime.Object) error {
	data, err := json.Marshal(content)
	if err != nil {
		return fmt.Errorf("validation: encoding %T: %w", obj, err)
	}
	fresh := reflect.New(reflect.TypeOf(obj).Elem())
	if err := kjson.UnmarshalCaseSensitivePreserveInts(data, fresh.Interface()); err != nil {
		return fmt.Errorf("validation: decoding %T: %w", obj, err)
	}
	reflect.ValueOf(obj).Elem().Set(fresh.Elem())
	return nil
}

// Config defaults and validates every object of cfg in place (Gateways,
// HTTPRoutes, GRPCRoutes, ListenerSets, ReferenceGrants, Namespaces,
// Secrets, ConfigMaps, BackendTLSPolicies, XBackends, XTelemetryPolicies
// and Objects) and returns the problems as *httproute.Error values joined
// with errors.Join, nil when there are none. Since it changes the
// objects, call it before handing them to a Router, not on objects a
// Router is serving. A Router built from Go structs opts into the
// validation the manifest loader applies by calling it before New or
// Update:
//
//	if err := v.Config(&cfg); err != nil {
//		return err
//	}
//	router, err := httproute.New(cfg)
func (v *Validator) Config(cfg *httproute.Config) error {
	var errs []error
	check := func(kind string, obj httproute.Object) {
		if obj == nil || reflect.ValueOf(obj).IsNil() {
			return
		}
		for _, fe := range v.Validate(obj) {
			e := &httproute.Error{
				Kind: kind, Namespace: obj.GetNamespace(), Name: obj.GetName(),
				Reason: reasonFor(fe), Field: fe,
			}
			if IsUnknownField(fe) {
				errs = append(errs, &UnknownFieldError{Err: e, Hint: v.UnknownFieldHint()})
				continue
			}
			errs = append(errs, e)
		}
	}
	for _, o := range cfg.Gateways {
		check("Gateway", o)
	}
	for _, o := range cfg.HTTPRoutes {
		check("HTTPRoute", o)
	}
	for _, o := range cfg.GRPCRoutes {
		check("GRPCRoute", o)
	}
	for _, o := range cfg.ListenerSets {
		check("ListenerSet", o)
	}
	for _, o := range cfg.ReferenceGrants {
		check("ReferenceGrant", o)
	}
	for _, o := range cfg.Namespaces {
		check("Namespace", o)
	}
	for _, o := range cfg.Secrets {
		check("Secret", o)
	}
	for _, o := range cfg.ConfigMaps {
		check("ConfigMap", o)
	}
	for _, o := range cfg.BackendTLSPolicies {
		check("BackendTLSPolicy", o)
	}
	for _, o := range cfg.XBackends {
		check("XBackend", o)
	}
	for _, o := range cfg.XTelemetryPolicies {
		check("XTelemetryPolicy", o)
	}
	for _, o := range cfg.Objects {
		if o == nil || reflect.ValueOf(o).IsNil() {
			continue
		}
		check(o.GetObjectKind().GroupVersionKind().Kind, o)
	}
	return errors.Join(errs...)
}

// reasonFor returns the Gateway API condition reason for a validation
// problem: a controller that met such an object would not accept it, for
// an unsupported value.
func reasonFor(*field.Error) string {
	return string(gatewayv1.RouteReasonUnsupportedValue)
}

package validation

import (
	"embed"
	"fmt"
	"path"
	"sort"
	"sync"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/runtime/schema"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"
)

// The CRDs of both channels of the gateway-api module this module requires,
// copied by hack/update-crds.sh (go:embed cannot reach into another module).
//
//go:embed crds/standard/*.yaml crds/experimental/*.yaml
var crdFiles embed.FS

// A Channel is a Gateway API release channel: the set of CRDs, and so of
// fields, objects are validated against.
type Channel int

const (
	// Standard is the standard channel: the fields and kinds that are
	// generally available. It is the default.
	Standard Channel = iota
	// Experimental is the experimental channel: the standard fields plus
	// experimental ones, such as HTTPRoute retry, sessionPersistence and
	// the ExternalAuth filter.
	Experimental
)

func (c Channel) String() string {
	switch c {
	case Standard:
		return "standard"
	case Experimental:
		return "experimental"
	default:
		return fmt.Sprintf("Channel(%d)", int(c))
	}
}

// crdVersion is one served version of one CRD, compiled on first use.
type crdVersion struct {
	gvk        schema.GroupVersionKind
	namespaced bool
	props      *apiextensionsv1.CustomResourceValidation

	once sync.Once
	err  error
	// structural is the structural schema with defaults pruned as the API
	// server prunes them.
	structural *structuralschema.Structural
	schema     apiservervalidation.SchemaValidator
	// cel is nil when the schema has no x-kubernetes-validations.
	cel *cel.Validator
}

// readCRDs parses the CRDs of a channel and indexes their served versions.
func readCRDs(ch Channel) (map[schema.GroupVersionKind]*crdVersion, error) {
	dir := path.Join("crds", ch.String())
	entries, err := crdFiles.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("validation: channel %s: %w", ch, err)
	}
	out := map[schema.GroupVersionKind]*crdVersion{}
	for _, e := range entries {
		data, err := crdFiles.ReadFile(path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.Unmarshal(data, &crd); err != nil {
			return nil, fmt.Errorf("validation: %s: %w", e.Name(), err)
		}
		for i := range crd.Spec.Versions {
			v := &crd.Spec.Versions[i]
			if !v.Served {
				continue
			}
			gvk := schema.GroupVersionKind{Group: crd.Spec.Group, Version: v.Name, Kind: crd.Spec.Names.Kind}
			out[gvk] = &crdVersion{
				gvk:        gvk,
				namespaced: crd.Spec.Scope == apiextensionsv1.NamespaceScoped,
				props:      v.Schema,
			}
		}
	}
	return out, nil
}

// compile builds the schema validator, the structural schema and the CEL
// programs of a version, as the API server builds them when it starts
// serving a CRD.
func (c *crdVersion) compile() error {
	c.once.Do(func() {
		if c.props == nil || c.props.OpenAPIV3Schema == nil {
			c.err = fmt.Errorf("validation: %s has no schema", c.gvk)
			return
		}
		internal := &apiextensions.CustomResourceValidation{}
		if err := apiextensionsv1.Convert_v1_CustomResourceValidation_To_apiextensions_CustomResourceValidation(c.props, internal, nil); err != nil {
			c.err = fmt.Errorf("validation: %s: converting the schema: %w", c.gvk, err)
			return
		}
		s, err := structuralschema.NewStructural(internal.OpenAPIV3Schema)
		if err != nil {
			c.err = fmt.Errorf("validation: %s: structural schema: %w", c.gvk, err)
			return
		}
		s = s.DeepCopy()
		if err := structuraldefaulting.PruneDefaults(s); err != nil {
			c.err = fmt.Errorf("validation: %s: pruning defaults: %w", c.gvk, err)
			return
		}
		sv, _, err := apiservervalidation.NewSchemaValidator(internal.OpenAPIV3Schema)
		if err != nil {
			c.err = fmt.Errorf("validation: %s: schema validator: %w", c.gvk, err)
			return
		}
		c.structural, c.schema = s, sv
		c.cel = cel.NewValidator(s, true, celconfig.PerCallLimit)
		c.props = nil // no longer needed
	})
	return c.err
}

// kinds lists the GroupVersionKinds of an index, sorted.
func kinds(idx map[schema.GroupVersionKind]*crdVersion) []schema.GroupVersionKind {
	out := make([]schema.GroupVersionKind, 0, len(idx))
	for gvk := range idx {
		out = append(out, gvk)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

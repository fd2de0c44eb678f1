package manifest

import (
	"encoding"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/httproute/httproute/validation"
)

// structure checks a decoded document against the Go type it will be
// decoded into, the way a strict JSON decoder would, but reporting every
// problem with its field path instead of stopping at the first: fields the
// type does not have, and values of the wrong JSON type. Field names match
// exactly (the API server's decoder is case-sensitive).
type structure struct {
	// types reports values of the wrong type. It is off when the CRD
	// schema validates the document: the API server's message for those
	// is the schema's.
	types  bool
	fields map[reflect.Type]map[string]fieldInfo
	errs   field.ErrorList
	// hints are the suggestions for the unknown fields of errs, by path
	// ("" when there is none).
	hints map[string]string
}

type fieldInfo struct {
	typ   reflect.Type
	depth int
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func newStructure(types bool) *structure {
	return &structure{types: types, fields: map[reflect.Type]map[string]fieldInfo{}, hints: map[string]string{}}
}

// reset readies the check for another document.
func (s *structure) reset(types bool) {
	s.types = types
	s.errs = nil
	clear(s.hints)
}

// check walks v (a value from the YAML converter) alongside t.
func (s *structure) check(t reflect.Type, v any, p *field.Path, depth int) {
	if depth > maxDepth {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v == nil {
		// null leaves a field at its zero value.
		return
	}
	if custom(t) {
		s.opaque(t, v, p)
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			s.typeError(p, v, "object")
			return
		}
		fields := s.fieldsOf(t)
		for _, k := range slices.Sorted(maps.Keys(m)) {
			f, ok := fields[k]
			if !ok {
				s.unknownField(p.Child(k), k, fields)
				continue
			}
			if depth == 0 && k == "metadata" && !s.types {
				// CRD schemas leave metadata to the API server's
				// decoder, which rejects values of the wrong type.
				s.types = true
				s.check(f.typ, m[k], p.Child(k), depth+1)
				s.types = false
				continue
			}
			s.check(f.typ, m[k], p.Child(k), depth+1)
		}
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			s.typeError(p, v, "object")
			return
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			s.check(t.Elem(), m[k], p.Key(k), depth+1)
		}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			str, ok := v.(string)
			if !ok {
				s.typeError(p, v, "string")
				return
			}
			if _, err := base64.StdEncoding.DecodeString(str); err != nil && s.types {
				s.errs = append(s.errs, field.Invalid(p, "<data>", "must be base64-encoded"))
			}
			return
		}
		items, ok := v.([]any)
		if !ok {
			s.typeError(p, v, "array")
			return
		}
		for i, item := range items {
			s.check(t.Elem(), item, p.Index(i), depth+1)
		}
	case reflect.String:
		if _, ok := v.(string); !ok {
			s.typeError(p, v, "string")
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			s.typeError(p, v, "boolean")
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := v.(int64)
		if !ok {
			s.typeError(p, v, "integer")
			return
		}
		bits := t.Bits()
		if bits < 64 && (n < -(1<<(bits-1)) || n > 1<<(bits-1)-1) && s.types {
			s.errs = append(s.errs, field.Invalid(p, n, fmt.Sprintf("must fit in a %d-bit integer", bits)))
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		n, ok := v.(int64)
		if !ok {
			s.typeError(p, v, "integer")
			return
		}
		bits := t.Bits()
		if (n < 0 || (bits < 64 && n > 1<<bits-1)) && s.types {
			s.errs = append(s.errs, field.Invalid(p, n, fmt.Sprintf("must fit in an unsigned %d-bit integer", bits)))
		}
	case reflect.Float32, reflect.Float64:
		switch x := v.(type) {
		case int64:
		case float64:
			if t.Kind() == reflect.Float32 && math.Abs(x) > math.MaxFloat32 && s.types {
				s.errs = append(s.errs, field.Invalid(p, x, "must fit in a 32-bit float"))
			}
		default:
			s.typeError(p, v, "number")
		}
	case reflect.Interface:
		// Any JSON value.
	default:
		s.typeError(p, v, t.Kind().String())
	}
}

// custom reports whether values of t decode themselves (metav1.Time,
// intstr.IntOrString, resource.Quantity ...): their JSON shape is theirs
// to check.
func custom(t reflect.Type) bool {
	pt := reflect.PointerTo(t)
	return t.Implements(jsonUnmarshaler) || pt.Implements(jsonUnmarshaler) ||
		t.Implements(textUnmarshaler) || pt.Implements(textUnmarshaler)
}

// opaque checks a value of a type that decodes itself by decoding it.
func (s *structure) opaque(t reflect.Type, v any, p *field.Path) {
	if !s.types {
		return
	}
	data, err := json.Marshal(v)
	if err != nil {
		s.errs = append(s.errs, field.Invalid(p, jsonType(v), err.Error()))
		return
	}
	if err := json.Unmarshal(data, reflect.New(t).Interface()); err != nil {
		msg := err.Error()
		var te *json.UnmarshalTypeError
		if asTypeError(err, &te) {
			msg = "must not be of type " + jsonType(v)
		}
		s.errs = append(s.errs, field.Invalid(p, describe(v), msg))
	}
}

func asTypeError(err error, target **json.UnmarshalTypeError) bool {
	te, ok := err.(*json.UnmarshalTypeError)
	if ok {
		*target = te
	}
	return ok
}

// typeError reports a value of the wrong JSON type, in the words of the
// API server's schema validation.
func (s *structure) typeError(p *field.Path, v any, want string) {
	if !s.types {
		return
	}
	s.errs = append(s.errs, field.TypeInvalid(p, jsonType(v), "must be of type "+want))
}

// unknownField reports a field the type does not have, as the validation
// package reports them, with the closest field name as its hint.
func (s *structure) unknownField(p *field.Path, k string, fields map[string]fieldInfo) {
	fe := validation.UnknownField(p)
	hint := ""
	if best := closest(k, fields); best != "" {
		hint = fmt.Sprintf("did you mean %q?", best)
	}
	s.errs = append(s.errs, fe)
	s.hints[fe.Field] = hint
}

// closest returns the field name nearest to k by edit distance, when it is
// near enough to be a likely typo.
func closest(k string, fields map[string]fieldInfo) string {
	best, bestDist := "", len(k)/3+2
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if d := distance(strings.ToLower(k), strings.ToLower(name)); d < bestDist {
			best, bestDist = name, d
		}
	}
	return best
}

// distance is the Levenshtein distance between two short strings.
func distance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return math.MaxInt
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// fieldsOf returns the JSON fields of a struct type by name, with the
// fields of embedded structs promoted as encoding/json promotes them: the
// shallowest wins, and names defined twice at the same depth are dropped.
func (s *structure) fieldsOf(t reflect.Type) map[string]fieldInfo {
	if f, ok := s.fields[t]; ok {
		return f
	}
	out := map[string]fieldInfo{}
	ambiguous := map[string]int{}
	var walk func(t reflect.Type, depth int, seen map[reflect.Type]bool)
	walk = func(t reflect.Type, depth int, seen map[reflect.Type]bool) {
		if seen[t] {
			return
		}
		seen[t] = true
		defer delete(seen, t)
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			ft := f.Type
			if f.Anonymous && name == "" {
				et := ft
				if et.Kind() == reflect.Pointer {
					et = et.Elem()
				}
				if et.Kind() == reflect.Struct {
					walk(et, depth+1, seen)
					continue
				}
			}
			if strings.Contains(opts, "inline") && ft.Kind() == reflect.Struct {
				walk(ft, depth+1, seen)
				continue
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if prev, ok := out[name]; ok {
				if prev.depth < depth {
					continue
				}
				if prev.depth == depth {
					ambiguous[name] = depth
					continue
				}
			}
			out[name] = fieldInfo{typ: ft, depth: depth}
		}
	}
	walk(t, 0, map[reflect.Type]bool{})
	for name, d := range ambiguous {
		if out[name].depth == d {
			delete(out, name)
		}
	}
	s.fields[t] = out
	return out
}

// jsonType names the JSON type of a converted value as the API server's
// schema validation names it.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case int64:
		return "integer"
	case float64:
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// describe returns a short form of a value for a message.
func describe(v any) any {
	switch v.(type) {
	case string, bool, int64, float64:
		return v
	default:
		return jsonType(v)
	}
}

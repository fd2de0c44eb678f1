package deepequal

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/randfill"
)

var specEqual = For[gatewayv1.HTTPRouteSpec]()

// TestAgreesWithReflect fills route specs at random and changes one leaf
// of a copy at random: the planned equality, and the one written out for
// HTTPRouteSpec, agree with reflect.DeepEqual on every pair, so no field
// is left out of the comparison.
func TestAgreesWithReflect(t *testing.T) {
	for _, tc := range []struct {
		name string
		eq   func(a, b *gatewayv1.HTTPRouteSpec) bool
	}{
		{"For", specEqual},
		{"HTTPRouteSpec", HTTPRouteSpec},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			f := randfill.NewWithSeed(7).NilChance(0.2).NumElements(0, 3)
			for i := 0; i < 3000; i++ {
				var a gatewayv1.HTTPRouteSpec
				f.Fill(&a)
				b := *a.DeepCopy()
				if !tc.eq(&a, &b) {
					t.Fatalf("a copy is not equal:\n%+v", a)
				}
				ls := leaves(reflect.ValueOf(&b).Elem())
				mutated := ls[r.IntN(len(ls))].change()
				if got, want := tc.eq(&a, &b), reflect.DeepEqual(a, b); got != want {
					t.Fatalf("changed %s: equality %v, reflect.DeepEqual %v", mutated, got, want)
				}
			}
		})
	}
}

// TestHTTPRouteSpecEveryLeaf changes, in turn, every leaf of specs filled
// to the last optional field: HTTPRouteSpec tells each change apart, so a
// field a Gateway API release adds to the route types fails here until
// it is compared.
func TestHTTPRouteSpecEveryLeaf(t *testing.T) {
	for seed := range int64(4) {
		var a gatewayv1.HTTPRouteSpec
		randfill.NewWithSeed(seed).NilChance(0).NumElements(1, 2).Fill(&a)
		n := len(leaves(reflect.ValueOf(&a).Elem()))
		for i := range n {
			b := *a.DeepCopy()
			mutated := leaves(reflect.ValueOf(&b).Elem())[i].change()
			if reflect.DeepEqual(a, b) {
				t.Fatalf("seed %d: changing %s left the spec equal", seed, mutated)
			}
			if HTTPRouteSpec(&a, &b) || HTTPRouteSpec(&b, &a) {
				t.Errorf("seed %d: changed %s: HTTPRouteSpec says equal", seed, mutated)
			}
		}
	}
}

// leaf is a value reachable from a spec that can be changed: a nil
// pointer, a slice (grown by one), or a scalar.
type leaf struct {
	v    reflect.Value
	name string
}

// leaves lists the leaves reachable from v in a fixed order.
func leaves(v reflect.Value) []leaf {
	var out []leaf
	var walk func(v reflect.Value, name string)
	walk = func(v reflect.Value, name string) {
		switch v.Kind() {
		case reflect.Pointer:
			if v.IsNil() {
				out = append(out, leaf{v, name + "(nil)"})
				return
			}
			walk(v.Elem(), name)
		case reflect.Struct:
			for i := 0; i < v.NumField(); i++ {
				walk(v.Field(i), name+"."+v.Type().Field(i).Name)
			}
		case reflect.Slice:
			out = append(out, leaf{v, name + "[]"})
			for i := 0; i < v.Len(); i++ {
				walk(v.Index(i), fmt.Sprintf("%s[%d]", name, i))
			}
		default:
			out = append(out, leaf{v, name})
		}
	}
	walk(v, "spec")
	return out
}

// change changes the leaf and says which it was.
func (l leaf) change() string {
	switch v := l.v; v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
	case reflect.Slice:
		v.Set(reflect.Append(v, reflect.Zero(v.Type().Elem())))
	case reflect.String:
		v.SetString(v.String() + "x")
	case reflect.Bool:
		v.SetBool(!v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(v.Int() + 1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(v.Uint() + 1)
	default:
		return l.name + " (not changed)"
	}
	return l.name
}

func BenchmarkPlanned(b *testing.B) {
	x, y := sample(), sample()
	b.ReportAllocs()
	for b.Loop() {
		_ = specEqual(&x, &y)
	}
}

func BenchmarkHTTPRouteSpec(b *testing.B) {
	x, y := sample(), sample()
	b.ReportAllocs()
	for b.Loop() {
		_ = HTTPRouteSpec(&x, &y)
	}
}

func BenchmarkReflect(b *testing.B) {
	x, y := sample(), sample()
	b.ReportAllocs()
	for b.Loop() {
		_ = reflect.DeepEqual(x, y)
	}
}

func sample() gatewayv1.HTTPRouteSpec {
	exact, prefix := gatewayv1.PathMatchExact, gatewayv1.PathMatchPathPrefix
	p := "/api/v1/svc7"
	status := p + "/status"
	port := gatewayv1.PortNumber(80)
	be := []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{Name: "svc", Port: &port}}}}
	_ = metav1.Time{}
	return gatewayv1.HTTPRouteSpec{
		Hostnames: []gatewayv1.Hostname{"host-7.example.com"},
		Rules: []gatewayv1.HTTPRouteRule{
			{Matches: []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{Type: &exact, Value: &status}}}, BackendRefs: be},
			{Matches: []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{Type: &prefix, Value: &p},
				Headers: []gatewayv1.HTTPHeaderMatch{{Name: "x-version", Value: "2"}}}}, BackendRefs: be},
			{Matches: []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{Type: &prefix, Value: &p}}}, BackendRefs: be},
		},
	}
}

package deepequal

import (
	"math/rand/v2"
	"reflect"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/randfill"
)

var specEqual = For[gatewayv1.HTTPRouteSpec]()

// TestAgreesWithReflect fills route specs at random and changes one leaf
// of a copy at random: the planned equality agrees with reflect.DeepEqual
// on every pair, so no field is left out of the comparison.
func TestAgreesWithReflect(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	f := randfill.NewWithSeed(7).NilChance(0.2).NumElements(0, 3)
	for i := 0; i < 3000; i++ {
		var a gatewayv1.HTTPRouteSpec
		f.Fill(&a)
		b := *a.DeepCopy()
		if !specEqual(&a, &b) {
			t.Fatalf("a copy is not equal:\n%+v", a)
		}
		mutated := mutate(reflect.ValueOf(&b).Elem(), r)
		if got, want := specEqual(&a, &b), reflect.DeepEqual(a, b); got != want {
			t.Fatalf("changed %s: planned equality %v, reflect.DeepEqual %v", mutated, got, want)
		}
	}
}

// mutate changes one leaf reachable from v, picked at random, and says
// which.
func mutate(v reflect.Value, r *rand.Rand) string {
	var leaves []reflect.Value
	var names []string
	var walk func(v reflect.Value, name string)
	walk = func(v reflect.Value, name string) {
		switch v.Kind() {
		case reflect.Pointer:
			if v.IsNil() {
				leaves, names = append(leaves, v), append(names, name+"(nil)")
				return
			}
			walk(v.Elem(), name)
		case reflect.Struct:
			for i := 0; i < v.NumField(); i++ {
				walk(v.Field(i), name+"."+v.Type().Field(i).Name)
			}
		case reflect.Slice:
			leaves, names = append(leaves, v), append(names, name+"[]")
			for i := 0; i < v.Len(); i++ {
				walk(v.Index(i), name+"[i]")
			}
		default:
			leaves, names = append(leaves, v), append(names, name)
		}
	}
	walk(v, "spec")
	i := r.IntN(len(leaves))
	l := leaves[i]
	switch l.Kind() {
	case reflect.Pointer:
		l.Set(reflect.New(l.Type().Elem()))
	case reflect.Slice:
		l.Set(reflect.Append(l, reflect.Zero(l.Type().Elem())))
	case reflect.String:
		l.SetString(l.String() + "x")
	case reflect.Bool:
		l.SetBool(!l.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		l.SetInt(l.Int() + 1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		l.SetUint(l.Uint() + 1)
	default:
		return names[i] + " (not mutated)"
	}
	return names[i]
}

func BenchmarkPlanned(b *testing.B) {
	x, y := sample(), sample()
	b.ReportAllocs()
	for b.Loop() {
		_ = specEqual(&x, &y)
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

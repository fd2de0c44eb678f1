package httproute

import (
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func testSplit(src rand.Source, weights ...int32) *split {
	var entries []*backendEntry
	for i, w := range weights {
		i := i
		entries = append(entries, &backendEntry{
			choice: BackendChoice{Weight: w},
			handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(200 + i)
			}),
		})
	}
	return newSplit(entries, &env{rand: rand.New(src)})
}

// TestSplitExactSequence pins the choices a seeded source produces: one
// draw per request, mapped through the cumulative weights.
func TestSplitExactSequence(t *testing.T) {
	s := testSplit(rand.NewPCG(1, 2), 10, 10, 80)
	var got []int
	for i := 0; i < 20; i++ {
		got = append(got, s.pick())
	}
	// The same draws, mapped by hand: [0,10) -> 0, [10,20) -> 1, [20,100) -> 2.
	ref := rand.New(rand.NewPCG(1, 2))
	var want []int
	for i := 0; i < 20; i++ {
		n := ref.Uint64N(100)
		switch {
		case n < 10:
			want = append(want, 0)
		case n < 20:
			want = append(want, 1)
		default:
			want = append(want, 2)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("sequence (-want +got):\n%s", diff)
	}
	pinned := []int{2, 2, 2, 2, 2, 0, 2, 2, 1, 1, 2, 2, 2, 1, 2, 2, 2, 2, 0, 2}
	if diff := cmp.Diff(pinned, got); diff != "" {
		t.Fatalf("sequence changed for seed (1,2) (-pinned +got):\n%s", diff)
	}
}

// TestSplitProportions checks the seed's 10/10/80 canary and 1:1 A/B
// splits over 100,000 requests with a fixed seed, within 1 percentage
// point.
func TestSplitProportions(t *testing.T) {
	tests := []struct {
		name    string
		weights []int32
	}{
		{"seed traffic-split 10/10/80", []int32{10, 10, 80}},
		{"seed 1:1", []int32{1, 1}},
		{"zero weight never chosen", []int32{0, 3, 1}},
		{"large weights", []int32{1000000, 1, 999999}},
	}
	const n = 100000
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testSplit(rand.NewPCG(7, 7), tt.weights...)
			var total int64
			for _, w := range tt.weights {
				total += int64(w)
			}
			counts := make([]int, len(s.entries))
			for i := 0; i < n; i++ {
				counts[s.pick()]++
			}
			j := 0
			for _, w := range tt.weights {
				if w == 0 {
					continue
				}
				want := float64(w) / float64(total)
				got := float64(counts[j]) / n
				if got < want-0.01 || got > want+0.01 {
					t.Errorf("weight %d: share %.4f, want %.4f ± 0.01", w, got, want)
				}
				j++
			}
		})
	}
}

func TestSplitDegenerate(t *testing.T) {
	e := &env{rand: rand.New(rand.NewPCG(1, 1))}
	allZero := newSplit([]*backendEntry{{choice: BackendChoice{Weight: 0}}, {choice: BackendChoice{Weight: 0}}}, e)
	if allZero.choose() != nil {
		t.Fatal("all-zero weights must choose nothing (the rule answers 500)")
	}
	d := &dispatcher{split: allZero, env: e}
	rec := httptest.NewRecorder()
	d.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 500 {
		t.Fatalf("all-zero weights answered %d, want 500", rec.Code)
	}
	only := &backendEntry{choice: BackendChoice{Weight: 5}, handler: http.NewServeMux()}
	s := newSplit([]*backendEntry{only, {choice: BackendChoice{Weight: 0}}}, e)
	for i := 0; i < 10; i++ {
		if s.choose() != only {
			t.Fatal("the only non-zero backendRef must always be chosen")
		}
	}
}

func TestSplitPickDoesNotAllocate(t *testing.T) {
	s := testSplit(rand.NewPCG(3, 4), 10, 10, 80)
	if a := testing.AllocsPerRun(1000, func() { s.pick() }); a != 0 {
		t.Fatalf("pick allocated %.1f times", a)
	}
}

func BenchmarkSplitPick(b *testing.B) {
	for _, tc := range []struct {
		name    string
		weights []int32
	}{
		{"3-backends", []int32{10, 10, 80}},
		{"16-backends", []int32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s := testSplit(runtimeSource{}, tc.weights...)
			b.ReportAllocs()
			for b.Loop() {
				s.pick()
			}
		})
	}
}

package prefixtrie

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMatch(t *testing.T) {
	var tr Tree[string]
	for _, k := range []string{"/api/v", "/a", "", "/api/", "/b/", "/api/v1/x", "/ab"} {
		*tr.Insert(k) = k
	}
	tests := []struct {
		s    string
		want []string
	}{
		{"", []string{""}},
		{"/", []string{""}},
		{"/a", []string{"", "/a"}},
		{"/ab/c", []string{"", "/a", "/ab"}},
		{"/api", []string{"", "/a"}},
		{"/api/v2/x", []string{"", "/a", "/api/", "/api/v"}},
		{"/api/v1/x/y", []string{"", "/a", "/api/", "/api/v", "/api/v1/x"}},
		{"/api/v1/", []string{"", "/a", "/api/", "/api/v"}},
		{"/b", []string{""}},
		{"/b/c", []string{"", "/b/"}},
		{"x", []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.s, func(t *testing.T) {
			var got []string
			for _, v := range tr.Match(tt.s, nil) {
				got = append(got, *v)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Match(%q) (-want +got):\n%s", tt.s, diff)
			}
		})
	}
	if tr.Len() != 7 {
		t.Errorf("Len = %d, want 7", tr.Len())
	}
}

func TestInsertReturnsTheSameValue(t *testing.T) {
	var tr Tree[int]
	*tr.Insert("/abc") += 1
	*tr.Insert("/ab") += 10 // splits the node of "/abc"
	*tr.Insert("/abc") += 1
	*tr.Insert("/ab") += 10
	if got := *tr.Insert("/abc"); got != 2 {
		t.Errorf("value under /abc = %d, want 2", got)
	}
	if got := *tr.Insert("/ab"); got != 20 {
		t.Errorf("value under /ab = %d, want 20", got)
	}
	if tr.Len() != 2 {
		t.Errorf("Len = %d, want 2", tr.Len())
	}
}

// TestMatchAgainstScan compares Match with a scan of every key on random
// keys over a small alphabet, where shared prefixes and splits abound.
func TestMatchAgainstScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	word := func(n int) string {
		var b strings.Builder
		for i := rng.IntN(n + 1); i > 0; i-- {
			b.WriteByte("/ab."[rng.IntN(4)])
		}
		return b.String()
	}
	for round := 0; round < 300; round++ {
		var tr Tree[string]
		keys := map[string]bool{}
		for i := rng.IntN(20); i > 0; i-- {
			k := word(6)
			keys[k] = true
			*tr.Insert(k) = k
		}
		for i := 0; i < 20; i++ {
			s := word(8)
			var want []string
			for l := 0; l <= len(s); l++ {
				if keys[s[:l]] {
					want = append(want, s[:l])
				}
			}
			var got []string
			for _, v := range tr.Match(s, nil) {
				got = append(got, *v)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("keys %v, Match(%q) (-want +got):\n%s", keys, s, diff)
			}
		}
	}
}

func TestMatchDoesNotAllocate(t *testing.T) {
	var tr Tree[int]
	for _, k := range []string{"/a", "/api/v", "/api/w"} {
		tr.Insert(k)
	}
	var buf [4]*int
	if n := testing.AllocsPerRun(100, func() { _ = tr.Match("/api/v1/x", buf[:0]) }); n != 0 {
		t.Fatalf("Match allocated %.1f times", n)
	}
}

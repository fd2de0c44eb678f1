package pathtrie

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMatch(t *testing.T) {
	var tr Tree[string]
	for _, p := range []string{"/", "/v2", "/v2/x/", "/a/b/c", "/a"} {
		*tr.Insert(p) = p
	}
	tests := []struct {
		path string
		want []string
	}{
		{"/", []string{"/"}},
		{"/v2", []string{"/", "/v2"}},
		{"/v2/", []string{"/", "/v2"}},
		{"/v2/x", []string{"/", "/v2", "/v2/x/"}},
		{"/v2/x/y", []string{"/", "/v2", "/v2/x/"}},
		{"/v2example", []string{"/"}},
		{"/a/b", []string{"/", "/a"}},
		{"/a/b/c/d", []string{"/", "/a", "/a/b/c"}},
		{"", []string{"/"}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			var got []string
			for _, v := range tr.Match(tt.path, nil) {
				got = append(got, *v)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Match(%q) (-want +got):\n%s", tt.path, diff)
			}
		})
	}
	if tr.Len() != 5 {
		t.Errorf("Len = %d, want 5", tr.Len())
	}
}

func TestInsertSharesTrailingSlash(t *testing.T) {
	var tr Tree[int]
	*tr.Insert("/a") += 1
	*tr.Insert("/a/") += 1
	if got := *tr.Insert("/a"); got != 2 {
		t.Fatalf("value under /a = %d, want 2 (the trailing slash must share the node)", got)
	}
	if tr.Len() != 1 {
		t.Fatalf("Len = %d, want 1", tr.Len())
	}
	seen := map[string]int{}
	tr.Walk(func(p string, v *int) { seen[p] = *v })
	if diff := cmp.Diff(map[string]int{"/a": 2}, seen); diff != "" {
		t.Errorf("Walk (-want +got):\n%s", diff)
	}
}

func TestMatchDoesNotAllocate(t *testing.T) {
	var tr Tree[int]
	for _, p := range []string{"/", "/api", "/api/v1", "/api/v1/users"} {
		tr.Insert(p)
	}
	var buf [8]*int
	allocs := testing.AllocsPerRun(100, func() {
		_ = tr.Match("/api/v1/users/42", buf[:0])
	})
	if allocs != 0 {
		t.Fatalf("Match allocated %.1f times per run, want 0", allocs)
	}
}

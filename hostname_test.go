package httproute

import "testing"

func TestIntersectHostnames(t *testing.T) {
	tests := []struct {
		name, listener, route string
		want                  string
		ok                    bool
	}{
		{"no listener hostname", "", "foo.example.com", "foo.example.com", true},
		{"no route hostname", "foo.example.com", "", "foo.example.com", true},
		{"equal exact", "foo.example.com", "foo.example.com", "foo.example.com", true},
		{"different exact", "foo.example.com", "bar.example.com", "", false},
		{"wildcard listener, exact route", "*.example.com", "test.example.com", "test.example.com", true},
		{"wildcard listener, deeper exact route", "*.example.com", "foo.test.example.com", "foo.test.example.com", true},
		{"wildcard listener, apex route", "*.example.com", "example.com", "", false},
		{"wildcard listener, other domain", "*.example.com", "test.example.net", "", false},
		{"exact listener, wildcard route", "test.example.com", "*.example.com", "test.example.com", true},
		{"exact listener, unrelated wildcard", "test.example.com", "*.example.net", "", false},
		{"both wildcard, route narrower", "*.example.com", "*.foo.example.com", "*.foo.example.com", true},
		{"both wildcard, listener narrower", "*.foo.example.com", "*.example.com", "*.foo.example.com", true},
		{"both wildcard, equal", "*.example.com", "*.example.com", "*.example.com", true},
		{"both wildcard, disjoint", "*.example.com", "*.example.net", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := intersectHostnames(tt.listener, tt.route)
			if got != tt.want || ok != tt.ok {
				t.Errorf("intersectHostnames(%q, %q) = %q, %v; want %q, %v", tt.listener, tt.route, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestRequestHost(t *testing.T) {
	tests := map[string]string{
		"example.com":          "example.com",
		"Example.COM:8080":     "example.com",
		"example.com.":         "example.com",
		"[::1]:8080":           "[::1]",
		"[::1]":                "[::1]",
		"127.0.0.1:80":         "127.0.0.1",
		"":                     "",
		"foo.example.com.:443": "foo.example.com",
	}
	for in, want := range tests {
		if got := requestHost(in); got != want {
			t.Errorf("requestHost(%q) = %q, want %q", in, got, want)
		}
	}
}

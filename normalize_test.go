package httproute

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func TestNormalizePath(t *testing.T) {
	type result struct {
		Path    string
		Verdict pathVerdict
	}
	serve := func(p string) result { return result{p, pathServe} }
	bad := result{"", pathBadRequest}
	tests := []struct {
		in      string
		slashes EscapedSlashAction
		want    result
		reason  string
	}{
		{"", 0, serve("/"), ""},
		{"/", 0, serve("/"), ""},
		{"/a/b/", 0, serve("/a/b/"), "a trailing slash is kept"},
		{"/a//b", 0, serve("/a/b"), ""},
		{"//evil.com/x", 0, serve("/evil.com/x"), "never a network-path reference"},
		{"/a/./b/../c", 0, serve("/a/c"), ""},
		{"/../../etc", 0, serve("/etc"), ""},
		{"/a/b/..", 0, serve("/a/"), ""},
		{"/a/b/.", 0, serve("/a/b/"), ""},
		{"a/b", 0, serve("/a/b"), "a rootless path gets its /"},
		{"/%61dmin", 0, serve("/admin"), "an escaped unreserved character is decoded"},
		{"/adm%69n/users", 0, serve("/admin/users"), ""},
		{"/%41%5A%61%7A%30%39%2D%2E%5F%7E", 0, serve("/AZaz09-._~"), "every unreserved class, upper hex"},
		{"/%41%5a%61%7a%30%39%2d%2e%5f%7e", 0, serve("/AZaz09-._~"), "every unreserved class, lower hex"},
		{"/a%2e%2E/b", 0, serve("/a../b"), "dots inside a segment are not dot segments"},
		{"/a/%2e%2E/b", 0, serve("/b"), "escaped dot segments resolve"},
		{"/a/.%2e/b", 0, serve("/b"), ""},
		{"/a%3bb%3Dc", 0, serve("/a%3Bb%3Dc"), "reserved escapes stay, upper-cased"},
		{"/x%20y%c3%a9", 0, serve("/x%20y%C3%A9"), ""},
		{"/a%25b", 0, serve("/a%25b"), "an escaped % stays escaped"},
		{"/a|b{c}", 0, serve("/a%7Cb%7Bc%7D"), "bytes a path may not hold raw are escaped"},
		{"/a(b)!*'$&+,;=:@", 0, serve("/a(b)!*'$&+,;=:@"), "sub-delims, : and @ stay raw"},
		{"/a%zz", 0, bad, "an invalid escape"},
		{"/a%4", 0, bad, "a truncated escape"},
		{"/a%", 0, bad, "a lone %"},
		{"/a%2Fb", EscapedSlashKeepUnchanged, serve("/a%2Fb"), ""},
		{"/a%2fb%5c", EscapedSlashKeepUnchanged, serve("/a%2Fb%5C"), ""},
		{"/a\\b", EscapedSlashKeepUnchanged, serve("/a%5Cb"), "a raw backslash is an escaped one"},
		{"/a%2F..%2Fb", EscapedSlashKeepUnchanged, serve("/a%2F..%2Fb"), "kept slashes do not separate segments"},
		{"/a%2Fb", EscapedSlashReject, bad, ""},
		{"/a\\b", EscapedSlashReject, bad, ""},
		{"/a%2fb", EscapedSlashUnescapeAndForward, serve("/a/b"), ""},
		{"/a%5C..%5Cb", EscapedSlashUnescapeAndForward, serve("/b"), "unescaped slashes separate segments"},
		{"/a%2F%2Fb", EscapedSlashUnescapeAndForward, serve("/a/b"), "and merge"},
		{"/a%2Fb", EscapedSlashUnescapeAndRedirect, result{"/a/b", pathRedirect}, ""},
		{"/a/b", EscapedSlashReject, serve("/a/b"), "no escaped slash, nothing to reject"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %s", tt.slashes, tt.in), func(t *testing.T) {
			p, v := normalizePath(tt.in, tt.slashes, false)
			if diff := cmp.Diff(tt.want, result{p, v}); diff != "" {
				t.Errorf("normalizePath(%q, %s) (-want +got): %s\n%s", tt.in, tt.slashes, tt.reason, diff)
			}
			if v == pathBadRequest {
				return
			}
			if again, v2 := normalizePath(p, tt.slashes, false); again != p || v2 != pathServe {
				t.Errorf("normalizing %q again gave %q, %v", p, again, v2)
			}
		})
	}
}

// checkMapping checks the string function f, called name, against a
// table of inputs and outputs.
func checkMapping(t *testing.T, name string, f func(string) string, tests map[string]string) {
	t.Helper()
	for in, want := range tests {
		if got := f(in); got != want {
			t.Errorf("%s(%q) = %q, want %q", name, in, got, want)
		}
	}
}

func TestCleanPathTakesInvalidEscapesLiterally(t *testing.T) {
	checkMapping(t, "CleanPath", CleanPath, map[string]string{
		"/a%zz": "/a%25zz",
		"/a%":   "/a%25",
		"/a%2F": "/a%2F",
		"/%61":  "/a",
	})
}

// TestNormalizingANormalPathDoesNotAllocate: the check of a request path
// that is already normal allocates nothing.
func TestNormalizingANormalPathDoesNotAllocate(t *testing.T) {
	var pp pathPolicy
	for _, target := range []string{"/api/v1/svc/items/7?debug=1", "/a%3Bb", "/a(b)"} {
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader("GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n")))
		if err != nil {
			t.Fatal(err)
		}
		raw, path, v := pp.check(req.URL)
		if v != pathServe || path != raw {
			t.Fatalf("%s: check = %q, %q, %v; want the path unchanged", target, raw, path, v)
		}
		if n := testing.AllocsPerRun(1000, func() { _, _, _ = pp.check(req.URL) }); n != 0 {
			t.Errorf("%s: check allocated %.1f times, want 0", target, n)
		}
	}
}

func TestRequestPathKeepsEscapesURLWouldDrop(t *testing.T) {
	// "|" makes net/url refuse the RawPath, and EscapedPath would then
	// turn "%2F" into "/": the escaped-slash policy must still see it.
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader("GET /a%2Fb|c HTTP/1.1\r\nHost: x\r\n\r\n")))
	if err != nil {
		t.Fatal(err)
	}
	if got := req.URL.EscapedPath(); got != "/a/b%7Cc" {
		t.Fatalf("premise: EscapedPath = %q", got)
	}
	if got := requestPath(req.URL); got != "/a%2Fb|c" {
		t.Errorf("requestPath = %q, want %q", got, "/a%2Fb|c")
	}
	if _, _, v := (pathPolicy{slashes: EscapedSlashReject}).check(req.URL); v != pathBadRequest {
		t.Errorf("with RejectRequest the verdict is %v, want a bad request", v)
	}
}

func TestSetEscapedPathMatchesURLParse(t *testing.T) {
	for _, p := range []string{"/a/b", "/a%20b", "/a%2Fb", "/a(b)", "/a%3Bb", "/a;b", "/%C3%A9", "/a%7Cb", "/a!b"} {
		want, err := url.Parse(p)
		if err != nil {
			t.Fatal(err)
		}
		var got url.URL
		setEscapedPath(&got, p)
		if got.Path != want.Path || got.RawPath != want.RawPath || got.EscapedPath() != p {
			t.Errorf("setEscapedPath(%q): Path %q RawPath %q (escaped %q), url.Parse: Path %q RawPath %q",
				p, got.Path, got.RawPath, got.EscapedPath(), want.Path, want.RawPath)
		}
	}
}

// fuzzPathRoutes covers the shapes routes take: prefixes, exact paths,
// regular expressions, escapes in values.
func fuzzPathRoutes() []*gatewayv1.HTTPRoute {
	exact, prefix, re := gatewayv1.PathMatchExact, gatewayv1.PathMatchPathPrefix, gatewayv1.PathMatchRegularExpression
	m := func(typ gatewayv1.PathMatchType, v string) gatewayv1.HTTPRouteRule {
		return gatewayv1.HTTPRouteRule{Matches: []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{Type: &typ, Value: ptr(v)}}}}
	}
	return []*gatewayv1.HTTPRoute{{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "r"},
		Spec: gatewayv1.HTTPRouteSpec{Rules: []gatewayv1.HTTPRouteRule{
			m(prefix, "/"), m(prefix, "/admin"), m(exact, "/admin/x"), m(prefix, "/a%3Bb"),
			m(re, "/api/v[0-9]+/internal/.*"), m(re, "/s.*cret"), m(exact, "/%7Euser"), m(prefix, "/a%5Cb"),
		}},
	}}
}

// FuzzNormalizedPath: the rule chosen for a raw path is the rule chosen
// for its normal form, and normalizing twice changes nothing, under every
// escaped-slash action.
func FuzzNormalizedPath(f *testing.F) {
	for _, p := range []string{"/%61dmin", "/adm%69n/x", "/api/v1/%69nternal/keys", "//admin//x/", "/a/%2e%2e/admin",
		"/secre%74", "/a%3bb/c", "/%7euser", "/a%5cb/c", "/a%2Fb", "/x%zz", "/a|b", "/./..//."} {
		f.Add(p)
	}
	routers := map[EscapedSlashAction]*Router{}
	for _, a := range []EscapedSlashAction{EscapedSlashUnescapeAndRedirect, EscapedSlashKeepUnchanged, EscapedSlashReject, EscapedSlashUnescapeAndForward} {
		rt, err := New(Config{HTTPRoutes: fuzzPathRoutes(), EscapedSlashes: a, Strict: true})
		if err != nil {
			f.Fatal(err)
		}
		routers[a] = rt
	}
	lookup := func(rt *Router, r *http.Request) string {
		m, ok := rt.Lookup(r)
		if !ok {
			return "none"
		}
		return fmt.Sprintf("rule %d", m.Rule)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader("GET " + raw + " HTTP/1.1\r\nHost: x\r\n\r\n")))
		if err != nil || req.URL.Opaque != "" || req.URL.RawQuery != "" || req.URL.Host != "" {
			return // not a path a server hands over
		}
		for a, rt := range routers {
			sent := requestPath(req.URL)
			norm, v := normalizePath(sent, a, false)
			if v == pathBadRequest {
				if _, ok := rt.Lookup(req); ok {
					t.Fatalf("%s: %q is a bad request but Lookup matched", a, raw)
				}
				continue
			}
			if again, v2 := normalizePath(norm, a, false); again != norm || v2 != pathServe {
				t.Fatalf("%s: normalizing %q gave %q, then %q (%v)", a, sent, norm, again, v2)
			}
			if len(norm) > DefaultMaxPathLength || len(sent) > DefaultMaxPathLength {
				continue // one of the two is 414, by design: the limit counts bytes as sent
			}
			nreq := httptest.NewRequest("GET", "http://x/", nil)
			setEscapedPath(nreq.URL, norm)
			want := lookup(rt, nreq)
			got := lookup(rt, req)
			if v == pathRedirect {
				// The Router answers the redirect; its target routes as
				// the normal form.
				if got != "none" {
					t.Fatalf("%s: %q redirects but Lookup matched %s", a, raw, got)
				}
				continue
			}
			if got != want {
				t.Fatalf("%s: %q routes to %s, its normal form %q to %s", a, raw, got, norm, want)
			}
		}
	})
}

// TestIsPathCharEveryByte compares isPathChar's bit sets with the
// character class of the CRD's path pattern (pathCharsMessage), byte by
// byte.
func TestIsPathCharEveryByte(t *testing.T) {
	class := regexp.MustCompile(`^[-A-Za-z0-9/._~!$&'()*+,;=:@]$`)
	for c := 0; c < 256; c++ {
		if got, want := isPathChar(byte(c)), class.Match([]byte{byte(c)}); got != want {
			t.Errorf("isPathChar(%#x %q) = %v, want %v", c, rune(c), got, want)
		}
	}
}

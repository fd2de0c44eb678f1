package regexrewrite_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/extension/regexrewrite"
	"github.com/httproute/httproute/httproutetest"
	"github.com/httproute/httproute/manifest"
)

func TestRewrite(t *testing.T) {
	tests := []struct {
		pattern, substitution, path, want, reason string
	}{
		// The examples of Envoy Gateway's ReplaceRegexMatch documentation.
		{`^/service/([^/]+)(/.*)$`, `\2/instance/\1`, "/service/foo/v1/api", "/v1/api/instance/foo", ""},
		{`one`, `two`, "/xxx/one/yyy/one/zzz", "/xxx/two/yyy/two/zzz", "every match is replaced"},
		{`^(.*?)one(.*)$`, `\1two\2`, "/xxx/one/yyy/one/zzz", "/xxx/two/yyy/one/zzz", ""},
		{`(?i)/xxx/`, `/yyy/`, "/aaa/XxX/bbb", "/aaa/yyy/bbb", ""},
		{`^/api/v(\d+)/`, `/v\1/api/`, "/api/v2/users", "/v2/api/users", ""},
		{`^/old`, ``, "/old", "/", "an empty result becomes /"},
		{`^/`, `x/`, "/a", "/x/a", "a result without a leading / gets one"},
		{`^/a`, `$1\\`, "/a", "/$1%5C", "$ is literal, \\\\ is a backslash (escaped, as it is sent)"},
		{`.*`, `\0\0`, "/a", "/a/a", `\0 is the whole match`},
		{`nomatch`, `x`, "/a/b", "/a/b", "no match leaves the path"},
	}
	for _, tc := range tests {
		t.Run(tc.pattern+" "+tc.path, func(t *testing.T) {
			rw, err := regexrewrite.Compile(tc.pattern, tc.substitution)
			if err != nil {
				t.Fatal(err)
			}
			if got := rw.Rewrite(tc.path); got != tc.want {
				t.Errorf("Rewrite(%q) = %q, want %q %s", tc.path, got, tc.want, tc.reason)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct{ pattern, substitution, want string }{
		{"(", "x", "replaceRegexMatch.pattern: Invalid value: \"(\": error parsing regexp: missing closing ): `(`"},
		{"", "x", "replaceRegexMatch.pattern: Required value"},
		{"(a)", `\2`, `replaceRegexMatch.substitution: Invalid value: "\\2": \2 refers to a capture group the pattern does not have (it has 1)`},
		{"a", `\n`, `replaceRegexMatch.substitution: Invalid value: "\\n": invalid escape \n: a '\' must be followed by a digit or another '\'`},
		{"a", `x\`, `replaceRegexMatch.substitution: Invalid value: "x\\": a '\' must be followed by a digit or another '\'`},
	}
	for _, tc := range tests {
		_, err := regexrewrite.Compile(tc.pattern, tc.substitution)
		if err == nil || err.Error() != tc.want {
			t.Errorf("Compile(%q, %q) = %v\nwant %s", tc.pattern, tc.substitution, err, tc.want)
		}
	}
}

const filterYAML = `apiVersion: gateway.envoyproxy.io/v1alpha1
kind: HTTPRouteFilter
metadata:
  name: regex-path-rewrite
  namespace: default
spec:
  urlRewrite:
    path:
      type: ReplaceRegexMatch
      replaceRegexMatch:
        pattern: '^/service/([^/]+)(/.*)$'
        substitution: '\2/instance/\1'
`

const routeYAML = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: rewrite-regex-path
  namespace: default
spec:
  rules:
  - matches:
    - path: {type: PathPrefix, value: /}
    filters:
    - type: ExtensionRef
      extensionRef:
        group: gateway.envoyproxy.io
        kind: HTTPRouteFilter
        name: regex-path-rewrite
    backendRefs:
    - {name: web, port: 8080}
`

func TestThroughRouter(t *testing.T) {
	env := httproutetest.New(t, httproutetest.Options{Extensions: []httproute.Extension{regexrewrite.Extension()}}, filterYAML, routeYAML)
	env.Run(t, []httproutetest.Case{
		{Name: "rewritten, query kept", Request: httproutetest.Request{Path: "/service/foo/v1/api?x=1"},
			Want: httproutetest.Want{Status: 200, BackendPath: "/v1/api/instance/foo?x=1"}},
		{Name: "escapes kept", Request: httproutetest.Request{Path: "/service/a%3Bb/v1"},
			Want: httproutetest.Want{Status: 200, BackendPath: "/v1/instance/a%3Bb"}},
		{Name: "no match", Request: httproutetest.Request{Path: "/other"},
			Want: httproutetest.Want{Status: 200, BackendPath: "/other"}},
	})
}

func TestUnsupportedParts(t *testing.T) {
	tests := []struct{ name, spec, want string }{
		{"direct response", `  directResponse: {statusCode: 200}
  urlRewrite:
    path: {type: ReplaceRegexMatch, replaceRegexMatch: {pattern: a, substitution: b}}
`, "HTTPRouteFilter default/f: spec.directResponse: Forbidden: not supported by regexrewrite; only spec.urlRewrite.path is"},
		{"hostname", `  urlRewrite:
    hostname: {type: Backend}
    path: {type: ReplaceRegexMatch, replaceRegexMatch: {pattern: a, substitution: b}}
`, "HTTPRouteFilter default/f: spec.urlRewrite.hostname: Forbidden: not supported by regexrewrite; only spec.urlRewrite.path is"},
		{"no path", `  urlRewrite: {}
`, "HTTPRouteFilter default/f: spec.urlRewrite.path: Required value: a ReplaceRegexMatch path rewrite is required"},
		{"other type", `  urlRewrite:
    path: {type: ReplacePrefixMatch}
`, `HTTPRouteFilter default/f: spec.urlRewrite.path.type: Unsupported value: "ReplacePrefixMatch": supported values: "ReplaceRegexMatch"`},
		{"missing replaceRegexMatch", `  urlRewrite:
    path: {type: ReplaceRegexMatch}
`, "HTTPRouteFilter default/f: spec.urlRewrite.path.replaceRegexMatch: Required value: If HTTPPathModifier type is ReplaceRegexMatch, replaceRegexMatch field needs to be set."},
		{"bad pattern", `  urlRewrite:
    path: {type: ReplaceRegexMatch, replaceRegexMatch: {pattern: "a(", substitution: b}}
`, "HTTPRouteFilter default/f: spec.urlRewrite.path.replaceRegexMatch.pattern: Invalid value: \"a(\": error parsing regexp: missing closing ): `a(`"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := httproutetest.Decode([]httproute.Extension{regexrewrite.Extension()}, `apiVersion: gateway.envoyproxy.io/v1alpha1
kind: HTTPRouteFilter
metadata: {name: f, namespace: default}
spec:
`+tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			_, err = regexrewrite.New(cfg.Objects[0].(*regexrewrite.HTTPRouteFilter))
			if err == nil || err.Error() != tc.want {
				t.Errorf("err = %v\nwant %s", err, tc.want)
			}
		})
	}
}

func TestDeepCopy(t *testing.T) {
	cfg, err := httproutetest.Decode([]httproute.Extension{regexrewrite.Extension()}, filterYAML)
	if err != nil {
		t.Fatal(err)
	}
	f := cfg.Objects[0].(*regexrewrite.HTTPRouteFilter)
	c := f.DeepCopyObject().(*regexrewrite.HTTPRouteFilter)
	c.Spec.URLRewrite.Path.ReplaceRegexMatch.Pattern = "changed"
	if f.Spec.URLRewrite.Path.ReplaceRegexMatch.Pattern == "changed" {
		t.Error("DeepCopyObject shares the spec")
	}
}

// FuzzRewrite checks that any pattern and substitution either fail to
// compile or rewrite any path into one that starts with "/" and survives
// being set on a URL.
func FuzzRewrite(f *testing.F) {
	f.Add(`^/service/([^/]+)(/.*)$`, `\2/instance/\1`, "/service/foo/v1/api")
	f.Add(`one`, `two`, "/xxx/one/yyy/one/zzz")
	f.Add(`^/`, ``, "/")
	f.Add(`.*`, `\0`, "")
	f.Add(`(a*)`, `?\1#`, "/aaa%2F")
	f.Add(`/+`, `//`, "//a//b")
	f.Fuzz(func(t *testing.T, pattern, substitution, path string) {
		rw, err := regexrewrite.Compile(pattern, substitution)
		if err != nil {
			return
		}
		got := rw.Rewrite(path)
		if !strings.HasPrefix(got, "/") {
			t.Fatalf("Rewrite(%q) with %q -> %q = %q: no leading /", path, pattern, substitution, got)
		}
		u := &url.URL{Scheme: "http", Host: "h"}
		if p, err := url.PathUnescape(got); err == nil {
			u.Path = p
		} else {
			u.Path = got
		}
		if !strings.HasPrefix(u.EscapedPath(), "/") {
			t.Fatalf("escaped path %q has no leading /", u.EscapedPath())
		}
	})
}

func TestLoadsWithTheManifestLoader(t *testing.T) {
	m, err := manifest.Decode(manifest.Options{Extensions: []httproute.Extension{regexrewrite.Extension()}},
		"rewrite.yaml", strings.NewReader(filterYAML+"---\n"+routeYAML))
	if err != nil {
		t.Fatal(err)
	}
	f, ok := m.Config.Objects[0].(*regexrewrite.HTTPRouteFilter)
	if !ok || f.Spec.URLRewrite.Path.ReplaceRegexMatch.Substitution != `\2/instance/\1` {
		t.Fatalf("objects = %#v", m.Config.Objects)
	}
	if _, err := regexrewrite.New(f); err != nil {
		t.Error(err)
	}
}

// TestRewriteCannotTraverse checks that a substitution cannot bring back
// dot segments the Router resolved before matching.
func TestRewriteCannotTraverse(t *testing.T) {
	rw, fe := regexrewrite.Compile(`^/static-(.*)$`, `/static/\1`)
	if fe != nil {
		t.Fatal(fe)
	}
	for in, want := range map[string]string{
		"/static-../admin":     "/admin",
		"/static-%2e%2e/admin": "/admin",
		"/static-css/app.css":  "/static/css/app.css",
		"/static-a//b":         "/static/a/b",
	} {
		if got := rw.Rewrite(in); got != want {
			t.Errorf("Rewrite(%q) = %q, want %q", in, got, want)
		}
	}
}

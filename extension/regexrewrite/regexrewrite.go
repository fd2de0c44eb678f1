// Package regexrewrite rewrites request paths with a regular expression,
// as Envoy's route regex_rewrite does, configured with Envoy Gateway's
// HTTPRouteFilter (gateway.envoyproxy.io/v1alpha1) and referenced from an
// HTTPRoute through an ExtensionRef filter:
//
//	apiVersion: gateway.envoyproxy.io/v1alpha1
//	kind: HTTPRouteFilter
//	metadata:
//	  name: service-rewrite
//	spec:
//	  urlRewrite:
//	    path:
//	      type: ReplaceRegexMatch
//	      replaceRegexMatch:
//	        pattern: '^/service/([^/]+)(/.*)$'
//	        substitution: '\2/instance/\1'
//
// turns /service/foo/v1/api into /v1/api/instance/foo.
//
// The pattern is RE2 (Go's regexp) and is matched against the escaped
// path, without the query, which is kept. Every non-overlapping match is
// replaced, as RE2::GlobalReplace does. In the substitution \0 is the
// whole match, \1 to \9 the capture groups, \\ a backslash; any other
// backslash is an error, and so is a group the pattern does not have.
// The rewritten path always starts with "/": one is prepended when the
// substitution leaves none.
//
// Only spec.urlRewrite.path is implemented: an object that sets any other
// part of Envoy Gateway's HTTPRouteFilter (hostname rewrites, direct
// responses, credential injection, mirrors, matches) is refused, so that
// the filter never silently does less than it says.
package regexrewrite

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/httproute/httproute"
)

// GroupVersionKind is the kind this package serves.
var GroupVersionKind = schema.GroupVersionKind{Group: "gateway.envoyproxy.io", Version: "v1alpha1", Kind: "HTTPRouteFilter"}

// ReplaceRegexMatchType is the only path modifier type of the kind.
const ReplaceRegexMatchType = "ReplaceRegexMatch"

// HTTPRouteFilter is Envoy Gateway's HTTPRouteFilter object.
type HTTPRouteFilter struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              Spec `json:"spec"`
}

// Spec is the filter's configuration. The fields held as raw JSON are the
// parts of Envoy Gateway's API this package does not implement.
type Spec struct {
	URLRewrite          *URLRewrite     `json:"urlRewrite,omitempty"`
	DirectResponse      json.RawMessage `json:"directResponse,omitempty"`
	CredentialInjection json.RawMessage `json:"credentialInjection,omitempty"`
	RequestMirror       json.RawMessage `json:"requestMirror,omitempty"`
	Matches             json.RawMessage `json:"matches,omitempty"`
}

// URLRewrite is spec.urlRewrite.
type URLRewrite struct {
	Hostname             json.RawMessage `json:"hostname,omitempty"`
	Path                 *PathModifier   `json:"path,omitempty"`
	AppendXForwardedHost *bool           `json:"appendXForwardedHost,omitempty"`
}

// PathModifier is spec.urlRewrite.path.
type PathModifier struct {
	Type              string             `json:"type"`
	ReplaceRegexMatch *ReplaceRegexMatch `json:"replaceRegexMatch,omitempty"`
}

// ReplaceRegexMatch is a pattern and its substitution.
type ReplaceRegexMatch struct {
	Pattern      string `json:"pattern"`
	Substitution string `json:"substitution"`
}

// DeepCopyObject implements runtime.Object.
func (f *HTTPRouteFilter) DeepCopyObject() runtime.Object {
	if f == nil {
		return nil
	}
	c := &HTTPRouteFilter{TypeMeta: f.TypeMeta}
	f.ObjectMeta.DeepCopyInto(&c.ObjectMeta)
	s := f.Spec
	c.Spec = Spec{
		DirectResponse:      slices.Clone(s.DirectResponse),
		CredentialInjection: slices.Clone(s.CredentialInjection),
		RequestMirror:       slices.Clone(s.RequestMirror),
		Matches:             slices.Clone(s.Matches),
	}
	if u := s.URLRewrite; u != nil {
		cu := &URLRewrite{Hostname: slices.Clone(u.Hostname)}
		if u.AppendXForwardedHost != nil {
			v := *u.AppendXForwardedHost
			cu.AppendXForwardedHost = &v
		}
		if u.Path != nil {
			p := *u.Path
			if p.ReplaceRegexMatch != nil {
				m := *p.ReplaceRegexMatch
				p.ReplaceRegexMatch = &m
			}
			cu.Path = &p
		}
		c.Spec.URLRewrite = cu
	}
	return c
}

// Extension returns the extension to register with a Router and the
// manifest loader.
func Extension() httproute.Extension {
	return httproute.Extension{
		Kind: GroupVersionKind,
		New:  func() httproute.Object { return &HTTPRouteFilter{} },
		Filter: func(ref httproute.ObjectRef) (httproute.Filter, error) {
			f, ok := ref.Object.(*HTTPRouteFilter)
			if !ok {
				return nil, fmt.Errorf("regexrewrite: %s %s/%s is a %T, not a *regexrewrite.HTTPRouteFilter", ref.Kind, ref.Namespace, ref.Name, ref.Object)
			}
			return New(f)
		},
	}
}

// New returns the filter f configures, or what is wrong with f.
func New(f *HTTPRouteFilter) (httproute.Filter, error) {
	rw, errs := compile(&f.Spec)
	if len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Error()
		}
		return nil, fmt.Errorf("HTTPRouteFilter %s/%s: %s", f.Namespace, f.Name, strings.Join(msgs, "; "))
	}
	return httproute.FilterFunc(rw.middleware), nil
}

func compile(s *Spec) (*Rewriter, field.ErrorList) {
	spec := field.NewPath("spec")
	var errs field.ErrorList
	unsupported := func(p *field.Path, raw json.RawMessage) {
		if len(raw) > 0 && string(raw) != "null" {
			errs = append(errs, field.Forbidden(p, "not supported by regexrewrite; only spec.urlRewrite.path is"))
		}
	}
	unsupported(spec.Child("directResponse"), s.DirectResponse)
	unsupported(spec.Child("credentialInjection"), s.CredentialInjection)
	unsupported(spec.Child("requestMirror"), s.RequestMirror)
	unsupported(spec.Child("matches"), s.Matches)
	u := s.URLRewrite
	if u == nil || u.Path == nil {
		return nil, append(errs, field.Required(spec.Child("urlRewrite", "path"), "a ReplaceRegexMatch path rewrite is required"))
	}
	up := spec.Child("urlRewrite")
	unsupported(up.Child("hostname"), u.Hostname)
	if u.AppendXForwardedHost != nil {
		errs = append(errs, field.Forbidden(up.Child("appendXForwardedHost"), "not supported by regexrewrite; only spec.urlRewrite.path is"))
	}
	pp := up.Child("path")
	if u.Path.Type != ReplaceRegexMatchType {
		return nil, append(errs, field.NotSupported(pp.Child("type"), u.Path.Type, []string{ReplaceRegexMatchType}))
	}
	m := u.Path.ReplaceRegexMatch
	if m == nil {
		return nil, append(errs, field.Required(pp.Child("replaceRegexMatch"), "If HTTPPathModifier type is ReplaceRegexMatch, replaceRegexMatch field needs to be set."))
	}
	rw, fe := compileRewriter(m.Pattern, m.Substitution, pp.Child("replaceRegexMatch"))
	if fe != nil {
		errs = append(errs, fe)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return rw, nil
}

// Rewriter rewrites paths with one pattern and substitution.
type Rewriter struct {
	re       *regexp.Regexp
	template string // the substitution in regexp.Expand syntax
}

// Compile returns the Rewriter of an RE2 pattern and an Envoy-style
// substitution.
func Compile(pattern, substitution string) (*Rewriter, error) {
	rw, fe := compileRewriter(pattern, substitution, field.NewPath("replaceRegexMatch"))
	if fe != nil {
		return nil, fe
	}
	return rw, nil
}

func compileRewriter(pattern, substitution string, path *field.Path) (*Rewriter, *field.Error) {
	if pattern == "" {
		return nil, field.Required(path.Child("pattern"), "")
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, field.Invalid(path.Child("pattern"), pattern, err.Error())
	}
	tmpl, msg := convertSubstitution(substitution, re.NumSubexp())
	if msg != "" {
		return nil, field.Invalid(path.Child("substitution"), substitution, msg)
	}
	return &Rewriter{re: re, template: tmpl}, nil
}

// convertSubstitution turns an RE2 rewrite string (\0-\9, \\) into the
// template syntax of regexp.Expand, or says why it is invalid.
func convertSubstitution(s string, groups int) (string, string) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '$':
			b.WriteString("$$")
		case c != '\\':
			b.WriteByte(c)
		case i+1 == len(s):
			return "", "a '\\' must be followed by a digit or another '\\'"
		case s[i+1] == '\\':
			b.WriteByte('\\')
			i++
		case '0' <= s[i+1] && s[i+1] <= '9':
			n := int(s[i+1] - '0')
			if n > groups {
				return "", fmt.Sprintf("\\%d refers to a capture group the pattern does not have (it has %d)", n, groups)
			}
			fmt.Fprintf(&b, "${%d}", n)
			i++
		default:
			return "", fmt.Sprintf("invalid escape \\%c: a '\\' must be followed by a digit or another '\\'", s[i+1])
		}
	}
	return b.String(), ""
}

// Rewrite returns the escaped path p rewritten. The result always starts
// with "/" and is clean (httproute.CleanPath): a substitution cannot bring
// back the ".." segments the Router resolved before matching, as
// "/static-../admin" rewritten to "/static/../admin" would.
func (rw *Rewriter) Rewrite(p string) string {
	return httproute.CleanPath(rw.re.ReplaceAllString(p, rw.template))
}

func (rw *Rewriter) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := rw.Rewrite(r.URL.EscapedPath())
		u := *r.URL
		setEscapedPath(&u, p)
		r2 := new(http.Request)
		*r2 = *r
		r2.URL = &u
		next.ServeHTTP(w, r2)
	})
}

// setEscapedPath sets the path of u from an escaped path; text that is not
// a valid escape is taken literally (and escaped when the URL is written).
func setEscapedPath(u *url.URL, escaped string) {
	if p, err := url.PathUnescape(escaped); err == nil {
		u.Path = p
		u.RawPath = ""
		if u.EscapedPath() != escaped {
			u.RawPath = escaped
		}
		return
	}
	u.Path, u.RawPath = escaped, ""
}

// Package linear is a deliberately naive reference matcher for HTTPRoutes:
// it checks every match of every rule of every route against a request,
// collects all that match, and sorts them by the precedence the Gateway API
// spec writes out in HTTPRouteSpec.Hostnames and HTTPRouteRule.Matches. It
// has no index and no cleverness, so that the Router's index can be
// differentially tested against it.
//
// It models the Router's implicit listener (no Gateway: every route attached,
// any host unless the route names hostnames) and the Router's documented
// choices where the spec leaves room: RegularExpression paths rank below
// Exact and above PathPrefix, longer patterns first; regular expressions
// match the whole value; a repeated header is matched as its values joined
// by ","; a query parameter is matched on its first occurrence; paths, the
// request's and the Exact and PathPrefix values alike, are compared in
// RFC 3986 normal form (unreserved escapes decoded, other escapes in upper
// case, dot segments resolved, slashes merged; escaped slashes kept).
package linear

import (
	"net/http"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// Result identifies the match that serves a request.
type Result struct {
	Namespace, Name string
	Rule, Match     int
}

type hit struct {
	res         Result
	route       *gatewayv1.HTTPRoute
	exactHost   int
	hostLen     int
	kindRank    int
	pathLen     int
	hasMethod   bool
	headerCount int
	queryCount  int
}

// Find returns the match of highest precedence for r, and false if none.
func Find(routes []*gatewayv1.HTTPRoute, r *http.Request) (Result, bool) {
	host := strings.ToLower(r.Host)
	if h, _, ok := strings.Cut(host, ":"); ok {
		host = h
	}
	host = strings.TrimSuffix(host, ".")
	p := clean(rawPath(r.URL))

	var hits []hit
	for _, rt := range routes {
		hostHits := []string{""}
		if len(rt.Spec.Hostnames) > 0 {
			hostHits = nil
			for _, h := range rt.Spec.Hostnames {
				hs := strings.ToLower(string(h))
				if hostMatches(hs, host) {
					hostHits = append(hostHits, hs)
				}
			}
		}
		for _, h := range hostHits {
			rules := rt.Spec.Rules
			if len(rules) == 0 {
				rules = []gatewayv1.HTTPRouteRule{{}}
			}
			for ri, rule := range rules {
				matches := rule.Matches
				if len(matches) == 0 {
					matches = []gatewayv1.HTTPRouteMatch{{}}
				}
				for mi, m := range matches {
					hh, ok := check(m, r, p)
					if !ok {
						continue
					}
					hh.res = Result{rt.Namespace, rt.Name, ri, mi}
					hh.route = rt
					if strings.HasPrefix(h, "*.") {
						hh.hostLen = len(h)
					} else {
						hh.exactHost, hh.hostLen = len(h), len(h)
					}
					hits = append(hits, hh)
				}
			}
		}
	}
	if len(hits) == 0 {
		return Result{}, false
	}
	sort.SliceStable(hits, func(i, j int) bool { return better(hits[i], hits[j]) })
	return hits[0].res, true
}

// better reports whether a takes precedence over b, tier by tier.
func better(a, b hit) bool {
	if a.exactHost != b.exactHost {
		return a.exactHost > b.exactHost
	}
	if a.hostLen != b.hostLen {
		return a.hostLen > b.hostLen
	}
	if a.kindRank != b.kindRank {
		return a.kindRank < b.kindRank
	}
	if a.pathLen != b.pathLen {
		return a.pathLen > b.pathLen
	}
	if a.hasMethod != b.hasMethod {
		return a.hasMethod
	}
	if a.headerCount != b.headerCount {
		return a.headerCount > b.headerCount
	}
	if a.queryCount != b.queryCount {
		return a.queryCount > b.queryCount
	}
	ta, tb := a.route.CreationTimestamp.Time, b.route.CreationTimestamp.Time
	if !ta.Equal(tb) {
		return ta.Before(tb)
	}
	ka, kb := a.res.Namespace+"/"+a.res.Name, b.res.Namespace+"/"+b.res.Name
	if ka != kb {
		return ka < kb
	}
	if a.res.Rule != b.res.Rule {
		return a.res.Rule < b.res.Rule
	}
	return a.res.Match < b.res.Match
}

func check(m gatewayv1.HTTPRouteMatch, r *http.Request, p string) (hit, bool) {
	var h hit
	typ, val := gatewayv1.PathMatchPathPrefix, "/"
	if m.Path != nil {
		if m.Path.Type != nil {
			typ = *m.Path.Type
		}
		if m.Path.Value != nil {
			val = *m.Path.Value
		}
	}
	h.pathLen = len(val)
	switch typ {
	case gatewayv1.PathMatchExact:
		h.kindRank = 0
		if p != clean(val) {
			return h, false
		}
	case gatewayv1.PathMatchRegularExpression:
		h.kindRank = 1
		re, err := regexp.Compile("^(?:" + val + ")$")
		if err != nil || !re.MatchString(p) {
			return h, false
		}
	default:
		h.kindRank = 2
		v := strings.TrimRight(clean(val), "/")
		if !(v == "" || p == v || strings.HasPrefix(p, v+"/")) {
			return h, false
		}
	}
	if m.Method != nil {
		h.hasMethod = true
		if r.Method != string(*m.Method) {
			return h, false
		}
	}
	seen := map[string]bool{}
	for _, hm := range m.Headers {
		name := http.CanonicalHeaderKey(string(hm.Name))
		if seen[name] {
			continue
		}
		seen[name] = true
		h.headerCount++
		vals := r.Header.Values(name)
		if name == "Host" {
			vals = []string{r.Host}
		}
		if len(vals) == 0 {
			return h, false
		}
		got := strings.Join(vals, ",")
		if hm.Type != nil && *hm.Type == gatewayv1.HeaderMatchRegularExpression {
			re, err := regexp.Compile("^(?:" + hm.Value + ")$")
			if err != nil || !re.MatchString(got) {
				return h, false
			}
		} else if got != hm.Value {
			return h, false
		}
	}
	seenQ := map[string]bool{}
	for _, qm := range m.QueryParams {
		if seenQ[string(qm.Name)] {
			continue
		}
		seenQ[string(qm.Name)] = true
		h.queryCount++
		got, ok := firstQuery(r.URL.RawQuery, string(qm.Name))
		if !ok {
			return h, false
		}
		if qm.Type != nil && *qm.Type == gatewayv1.QueryParamMatchRegularExpression {
			re, err := regexp.Compile("^(?:" + qm.Value + ")$")
			if err != nil || !re.MatchString(got) {
				return h, false
			}
		} else if got != qm.Value {
			return h, false
		}
	}
	return h, true
}

// firstQuery returns the decoded value of the first occurrence of name.
func firstQuery(raw, name string) (string, bool) {
	for _, pair := range strings.Split(raw, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		dk, err := url.QueryUnescape(k)
		if err != nil || dk != name {
			continue
		}
		dv, err := url.QueryUnescape(v)
		if err != nil {
			return "", false
		}
		return dv, true
	}
	return "", false
}

func hostMatches(pattern, host string) bool {
	if strings.HasPrefix(pattern, "*.") {
		return strings.HasSuffix(host, pattern[1:]) && len(host) > len(pattern)-1
	}
	return pattern == host
}

// rawPath is the path of u as sent: RawPath when it decodes to Path.
func rawPath(u *url.URL) string {
	if u.RawPath != "" {
		if p, err := url.PathUnescape(u.RawPath); err == nil && p == u.Path {
			return u.RawPath
		}
	}
	return u.EscapedPath()
}

var escapeRE = regexp.MustCompile(`%[0-9a-fA-F]{2}`)

// clean decodes the escapes of unreserved characters, upper-cases the
// others and resolves dot segments and repeated slashes with path.Clean,
// keeping a trailing slash.
func clean(p string) string {
	p = escapeRE.ReplaceAllStringFunc(p, func(e string) string {
		b, _ := strconv.ParseUint(e[1:], 16, 8)
		if c := string(rune(b)); strings.Contains("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~", c) {
			return c
		}
		return strings.ToUpper(e)
	})
	if p == "" {
		return "/"
	}
	c := path.Clean("/" + p)
	if (strings.HasSuffix(p, "/") || strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/..")) && c != "/" {
		c += "/"
	}
	return c
}

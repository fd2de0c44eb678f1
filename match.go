package httproute

import (
	"cmp"
	"net/http"
	"net/textproto"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// pathKind ranks path match types, strongest first. The order of the
// constants is the precedence order: Exact, then RegularExpression, then
// PathPrefix. The spec leaves the rank of RegularExpression to
// implementations; this one ranks it below Exact and above every
// PathPrefix, as Envoy Gateway does, so that a regular expression written for
// a subtree is not shadowed by a "/" catch-all.
type pathKind uint8

const (
	pathExact pathKind = iota
	pathRegex
	pathPrefix
)

func (k pathKind) String() string {
	switch k {
	case pathExact:
		return string(gatewayv1.PathMatchExact)
	case pathRegex:
		return string(gatewayv1.PathMatchRegularExpression)
	case pathPrefix:
		return string(gatewayv1.PathMatchPathPrefix)
	default:
		return "unknown"
	}
}

// headerMatcher is one compiled HTTPHeaderMatch.
type headerMatcher struct {
	name  string // canonical MIME header key
	host  bool   // the header is Host, which net/http keeps in Request.Host
	value string // Exact value; unused when re is set
	re    *regexp.Regexp
}

// queryMatcher is one compiled HTTPQueryParamMatch.
type queryMatcher struct {
	name  string
	value string
	re    *regexp.Regexp
}

// routeMatch is one compiled HTTPRouteMatch with every CRD default applied.
type routeMatch struct {
	kind pathKind
	// path is the value to compare: Exact as written, PathPrefix without its
	// trailing "/" (the spec ignores it), the pattern for RegularExpression.
	path string
	// pathLen is the length of the value as written; longer prefixes and
	// patterns take precedence.
	pathLen int
	re      *regexp.Regexp
	// literal is the literal text every path the RegularExpression
	// matches starts with (regexp's LiteralPrefix), "" when none.
	literal string
	method  string
	headers []headerMatcher
	query   []queryMatcher
	// grpc is the method match of a GRPCRoute match, nil for an
	// HTTPRoute's. A GRPCRoute match has the path fields of "PathPrefix
	// /" and no method or query matches, so that those tiers of
	// precedence tie between GRPCRoute matches.
	grpc *grpcMatch
}

// hostRank is the hostname tier of precedence: the characters of the
// matching non-wildcard hostname, then the characters of the matching
// hostname (HTTPRouteSpec.Hostnames).
type hostRank struct {
	exactLen int // len of an exact hostname, 0 for a wildcard or none
	len      int // len of the hostname as written, "*." included
}

func rankHost(h string) hostRank {
	if strings.HasPrefix(h, "*.") {
		return hostRank{len: len(h)}
	}
	return hostRank{exactLen: len(h), len: len(h)}
}

// candidate is one match of one rule of one route, under one effective
// hostname of one listener. Candidates are what the index stores and what
// the precedence comparator orders.
type candidate struct {
	host  hostRank
	match *routeMatch
	rule  *rule
	// matchIndex is the index of the match within the rule.
	matchIndex int
	// port is the port of the listener the candidate attached to, 0 for
	// the implicit listener.
	port int32
	// info is what Lookup and the request context report for this candidate.
	info *Match
}

// compareCandidates is THE precedence order of the Router: it returns a
// negative number when a takes precedence over b. The tiers, in order, are
// those of HTTPRouteSpec.Hostnames and HTTPRouteRule.Matches, with those of
// GRPCRouteRule.Matches in the second:
//
//  1. the matching hostname with the most non-wildcard characters, then the
//     most characters;
//  2. a GRPCRoute match before an HTTPRoute match (only gRPC requests can
//     match the former); between GRPCRoute matches, the service (Exact,
//     then RegularExpression, then none; then the most characters), then
//     the method in the same way (see compareGRPC);
//  3. an Exact path, then a RegularExpression path, then a PathPrefix;
//  4. the longest path value (prefix or pattern);
//  5. a method match;
//  6. the most header matches;
//  7. the most query parameter matches;
//  8. the oldest route by creation timestamp;
//  9. the route first in "{namespace}/{name}" order;
//  10. the first rule in the route;
//  11. the first match in the rule.
//
// Every other part of the Router, the index included, follows this order.
func compareCandidates(a, b *candidate) int {
	if c := cmp.Compare(b.host.exactLen, a.host.exactLen); c != 0 {
		return c
	}
	if c := cmp.Compare(b.host.len, a.host.len); c != 0 {
		return c
	}
	if c := compareGRPC(a.match.grpc, b.match.grpc); c != 0 {
		return c
	}
	if c := cmp.Compare(a.match.kind, b.match.kind); c != 0 {
		return c
	}
	if c := cmp.Compare(b.match.pathLen, a.match.pathLen); c != 0 {
		return c
	}
	if c := compareBool(a.match.method != "", b.match.method != ""); c != 0 {
		return c
	}
	if c := cmp.Compare(len(b.match.headers), len(a.match.headers)); c != 0 {
		return c
	}
	if c := cmp.Compare(len(b.match.query), len(a.match.query)); c != 0 {
		return c
	}
	ra, rb := a.rule.route, b.rule.route
	if c := ra.created.Compare(rb.created); c != 0 {
		return c
	}
	// "{namespace}/{name}" as one string: comparing the namespace first
	// would differ when one namespace is a prefix of another ("a/z" and
	// "a-b/c": '-' sorts before '/').
	if c := cmp.Compare(ra.key, rb.key); c != 0 {
		return c
	}
	if c := cmp.Compare(a.rule.index, b.rule.index); c != 0 {
		return c
	}
	return cmp.Compare(a.matchIndex, b.matchIndex)
}

// compareBool orders true before false.
func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return -1
	default:
		return 1
	}
}

// matches reports whether the request satisfies every condition of m except
// the path kind Exact or PathPrefix, which the index has already checked.
// path is the normalized request path. It does not allocate unless a header
// is repeated and matched by a regular expression, or a query parameter is
// percent-encoded and matched by a regular expression.
func (m *routeMatch) matches(r *http.Request, path string) bool {
	if m.method != "" && r.Method != m.method {
		return false
	}
	if m.re != nil && !m.re.MatchString(path) {
		return false
	}
	for i := range m.headers {
		if !m.headers[i].matches(r) {
			return false
		}
	}
	for i := range m.query {
		if !m.query[i].matches(r.URL.RawQuery) {
			return false
		}
	}
	return true
}

func (h *headerMatcher) matches(r *http.Request) bool {
	var vals []string
	if h.host {
		if r.Host == "" {
			return false
		}
		vals = []string{r.Host}
	} else {
		vals = r.Header[h.name]
	}
	switch len(vals) {
	case 0:
		return false
	case 1:
		if h.re != nil {
			return h.re.MatchString(vals[0])
		}
		return vals[0] == h.value
	default:
		// A repeated header is matched as its values joined by ",", as
		// RFC 9110 section 5.3 combines field lines.
		if h.re != nil {
			return h.re.MatchString(strings.Join(vals, ","))
		}
		return equalJoined(vals, h.value)
	}
}

// equalJoined reports whether strings.Join(vals, ",") == want without
// building the joined string.
func equalJoined(vals []string, want string) bool {
	for i, v := range vals {
		if i > 0 {
			if want == "" || want[0] != ',' {
				return false
			}
			want = want[1:]
		}
		if !strings.HasPrefix(want, v) {
			return false
		}
		want = want[len(v):]
	}
	return want == ""
}

// matches reports whether the first occurrence of the parameter in the raw
// query has the wanted value; the spec recommends the first value.
func (q *queryMatcher) matches(rawQuery string) bool {
	for rawQuery != "" {
		var pair string
		pair, rawQuery, _ = strings.Cut(rawQuery, "&")
		k, v, _ := strings.Cut(pair, "=")
		if !equalUnescaped(k, q.name) {
			continue
		}
		if q.re != nil {
			if needsUnescape(v) {
				uv, ok := unescapeQuery(v)
				return ok && q.re.MatchString(uv)
			}
			return q.re.MatchString(v)
		}
		return equalUnescaped(v, q.value)
	}
	return false
}

func needsUnescape(s string) bool { return strings.ContainsAny(s, "%+") }

// equalUnescaped reports whether the query component s, once decoded the way
// url.QueryUnescape decodes it, equals plain. It does not allocate.
func equalUnescaped(s, plain string) bool {
	if !needsUnescape(s) {
		return s == plain
	}
	j := 0
	for i := 0; i < len(s); {
		c, n, ok := queryByte(s, i)
		if !ok || j >= len(plain) || plain[j] != c {
			return false
		}
		i, j = n, j+1
	}
	return j == len(plain)
}

func unescapeQuery(s string) (string, bool) {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		c, n, ok := queryByte(s, i)
		if !ok {
			return "", false
		}
		b.WriteByte(c)
		i = n
	}
	return b.String(), true
}

// queryByte decodes the byte of the query component s at i as
// url.QueryUnescape does ("+" is a space, "%XX" a byte) and returns it with
// the index of the next one; ok is false for a malformed escape.
func queryByte(s string, i int) (c byte, next int, ok bool) {
	switch c = s[i]; c {
	case '+':
		return ' ', i + 1, true
	case '%':
		d, ok := escapeAt(s, i)
		return d, i + 3, ok
	}
	return c, i + 1, true
}

// compileMatch applies the CRD defaults to one HTTPRouteMatch and compiles
// it. Problems are reported against path, the field path of the match.
func compileMatch(m *gatewayv1.HTTPRouteMatch, path *field.Path) (*routeMatch, *field.Error) {
	out := &routeMatch{kind: pathPrefix, path: "", pathLen: 1}
	if p := m.Path; p != nil {
		typ := gatewayv1.PathMatchPathPrefix
		if p.Type != nil {
			typ = *p.Type
		}
		val := "/"
		if p.Value != nil {
			val = *p.Value
		}
		vp := path.Child("path", "value")
		switch typ {
		case gatewayv1.PathMatchExact, gatewayv1.PathMatchPathPrefix:
			if msg := checkMatchPath(val); msg != "" {
				return nil, field.Invalid(vp, val, msg)
			}
			out.pathLen = len(val)
			// Request paths are matched in normal form: so is the value
			// ("/%61dmin" is "/admin", "%3b" is "%3B").
			norm := cleanPath(val)
			if typ == gatewayv1.PathMatchExact {
				out.kind, out.path = pathExact, norm
			} else {
				out.kind, out.path = pathPrefix, strings.TrimRight(norm, "/")
			}
		case gatewayv1.PathMatchRegularExpression:
			re, err := compileWhole(val)
			if err != nil {
				return nil, field.Invalid(vp, val, "invalid RE2 regular expression: "+err.Error())
			}
			out.kind, out.path, out.pathLen, out.re = pathRegex, val, len(val), re
			out.literal = literalPrefix(val)
		default:
			return nil, field.NotSupported(path.Child("path", "type"), typ,
				[]gatewayv1.PathMatchType{gatewayv1.PathMatchExact, gatewayv1.PathMatchPathPrefix, gatewayv1.PathMatchRegularExpression})
		}
	}
	if m.Method != nil {
		switch meth := *m.Method; meth {
		case gatewayv1.HTTPMethodGet, gatewayv1.HTTPMethodHead, gatewayv1.HTTPMethodPost,
			gatewayv1.HTTPMethodPut, gatewayv1.HTTPMethodDelete, gatewayv1.HTTPMethodConnect,
			gatewayv1.HTTPMethodOptions, gatewayv1.HTTPMethodTrace, gatewayv1.HTTPMethodPatch:
			out.method = string(meth)
		default:
			return nil, field.NotSupported(path.Child("method"), meth, []gatewayv1.HTTPMethod{
				gatewayv1.HTTPMethodGet, gatewayv1.HTTPMethodHead, gatewayv1.HTTPMethodPost,
				gatewayv1.HTTPMethodPut, gatewayv1.HTTPMethodDelete, gatewayv1.HTTPMethodConnect,
				gatewayv1.HTTPMethodOptions, gatewayv1.HTTPMethodTrace, gatewayv1.HTTPMethodPatch})
		}
	}
	seenHeader := map[string]bool{}
	for i, h := range m.Headers {
		hp := path.Child("headers").Index(i)
		if !validHeaderName(string(h.Name)) {
			return nil, field.Invalid(hp.Child("name"), h.Name, "must be a valid HTTP header name")
		}
		canon := textproto.CanonicalMIMEHeaderKey(string(h.Name))
		// Only the first entry with an equivalent name is considered.
		if seenHeader[canon] {
			continue
		}
		seenHeader[canon] = true
		hm := headerMatcher{name: canon, host: canon == "Host", value: h.Value}
		typ := gatewayv1.HeaderMatchExact
		if h.Type != nil {
			typ = *h.Type
		}
		switch typ {
		case gatewayv1.HeaderMatchExact:
		case gatewayv1.HeaderMatchRegularExpression:
			re, err := compileWhole(h.Value)
			if err != nil {
				return nil, field.Invalid(hp.Child("value"), h.Value, "invalid RE2 regular expression: "+err.Error())
			}
			hm.re = re
		default:
			return nil, field.NotSupported(hp.Child("type"), typ,
				[]gatewayv1.HeaderMatchType{gatewayv1.HeaderMatchExact, gatewayv1.HeaderMatchRegularExpression})
		}
		out.headers = append(out.headers, hm)
	}
	seenQuery := map[string]bool{}
	for i, q := range m.QueryParams {
		qp := path.Child("queryParams").Index(i)
		if q.Name == "" {
			return nil, field.Required(qp.Child("name"), "")
		}
		if seenQuery[string(q.Name)] {
			continue
		}
		seenQuery[string(q.Name)] = true
		qm := queryMatcher{name: string(q.Name), value: q.Value}
		typ := gatewayv1.QueryParamMatchExact
		if q.Type != nil {
			typ = *q.Type
		}
		switch typ {
		case gatewayv1.QueryParamMatchExact:
		case gatewayv1.QueryParamMatchRegularExpression:
			re, err := compileWhole(q.Value)
			if err != nil {
				return nil, field.Invalid(qp.Child("value"), q.Value, "invalid RE2 regular expression: "+err.Error())
			}
			qm.re = re
		default:
			return nil, field.NotSupported(qp.Child("type"), typ,
				[]gatewayv1.QueryParamMatchType{gatewayv1.QueryParamMatchExact, gatewayv1.QueryParamMatchRegularExpression})
		}
		out.query = append(out.query, qm)
	}
	return out, nil
}

// compileWhole compiles an RE2 expression that must match a whole value.
// The expression is parsed on its own first, so that a value such as
// "/admin)|(.*" cannot close the anchoring group and match anything.
func compileWhole(expr string) (*regexp.Regexp, error) {
	if _, err := regexp.Compile(expr); err != nil {
		return nil, err
	}
	return regexp.Compile(`^(?:` + expr + `)$`)
}

// literalPrefix returns the literal text that every string a valid RE2
// expression matches starts with ("/api/v" for "/api/v[0-9]+/.*"), or "".
func literalPrefix(expr string) string {
	re, err := regexp.Compile(expr)
	if err != nil {
		return ""
	}
	p, _ := re.LiteralPrefix()
	return p
}

// checkMatchPath returns why an Exact or PathPrefix value is not a valid
// match path, in the words of the CRD's validation rules, or "".
func checkMatchPath(v string) string {
	switch {
	case !strings.HasPrefix(v, "/"):
		return "value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']"
	case strings.Contains(v, "//"):
		return "must not contain '//' when type one of ['Exact', 'PathPrefix']"
	case strings.Contains(v, "/./"):
		return "must not contain '/./' when type one of ['Exact', 'PathPrefix']"
	case strings.Contains(v, "/../"):
		return "must not contain '/../' when type one of ['Exact', 'PathPrefix']"
	case strings.Contains(v, "%2f"):
		return "must not contain '%2f' when type one of ['Exact', 'PathPrefix']"
	case strings.Contains(v, "%2F"):
		return "must not contain '%2F' when type one of ['Exact', 'PathPrefix']"
	case strings.Contains(v, "#"):
		return "must not contain '#' when type one of ['Exact', 'PathPrefix']"
	case strings.HasSuffix(v, "/.."):
		return "must not end with '/..' when type one of ['Exact', 'PathPrefix']"
	case strings.HasSuffix(v, "/."):
		return "must not end with '/.' when type one of ['Exact', 'PathPrefix']"
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '%' {
			if _, ok := escapeAt(v, i); !ok {
				return pathCharsMessage
			}
			i += 2
			continue
		}
		if !isPathChar(c) {
			return pathCharsMessage
		}
	}
	return ""
}

const pathCharsMessage = "must only contain valid characters (matching ^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$) for types ['Exact', 'PathPrefix']"

// isPathChar reports whether c may appear unescaped in a path match
// value (pathCharsMessage): a bit of pathCharsLo for bytes below 64, of
// pathCharsHi for 64 to 127.
func isPathChar(c byte) bool {
	if c < 64 {
		return pathCharsLo>>c&1 != 0
	}
	return c < 128 && pathCharsHi>>(c-64)&1 != 0
}

const (
	pathCharsLo = 1<<'!' | 1<<'$' | 1<<'&' | 1<<'\'' | 1<<'(' | 1<<')' | 1<<'*' | 1<<'+' | 1<<',' |
		1<<'-' | 1<<'.' | 1<<'/' | (1<<10-1)<<'0' | 1<<':' | 1<<';' | 1<<'='
	pathCharsHi = 1<<('@'-64) | (1<<26-1)<<('A'-64) | 1<<('_'-64) | (1<<26-1)<<('a'-64) | 1<<('~'-64)
)

// validHeaderName reports whether s is an RFC 7230 token, the pattern of
// gatewayv1.HTTPHeaderName.
func validHeaderName(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// CleanPath returns an escaped URL path in the normal form the Router
// matches and forwards request paths in: percent-encoded unreserved
// characters decoded, the hex digits of other escapes upper-cased, "." and
// ".." segments resolved (percent-encoded dots included), repeated slashes
// merged, a trailing slash kept, always starting with "/". Escaped slashes
// are kept as escapes, and a "%" that starts no valid escape is taken
// literally ("%25"). Filters that rewrite paths run their results through
// it, so that a rewrite cannot produce a path the Router would not have
// let through.
func CleanPath(escaped string) string { return cleanPath(escaped) }

// cleanPath is CleanPath. It returns p itself, without allocating, when p
// is already normal.
func cleanPath(p string) string {
	out, _ := normalizePath(p, EscapedSlashKeepUnchanged, true)
	return out
}

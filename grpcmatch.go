package httproute

import (
	"cmp"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// GRPCMatch is the method match of a GRPCRoute rule after defaulting, as
// Lookup reports it: Service and Method are empty when the match does not
// constrain them (and both are when the rule has no method match).
type GRPCMatch struct {
	Type    gatewayv1.GRPCMethodMatchType
	Service string
	Method  string
}

// nameKind ranks how a gRPC service or method is matched, strongest
// first: Exact, then RegularExpression, then not at all.
type nameKind uint8

const (
	nameExact nameKind = iota
	nameRegex
	nameAny
)

// nameMatch is the compiled match of a gRPC service or method name.
type nameMatch struct {
	kind  nameKind
	value string // the name for Exact, the pattern for RegularExpression
	re    *regexp.Regexp
}

func (n *nameMatch) matches(s string) bool {
	switch n.kind {
	case nameExact:
		return s == n.value
	case nameRegex:
		return n.re.MatchString(s)
	default:
		return true
	}
}

// grpcMatch is the compiled GRPCMethodMatch of one GRPCRoute match; its
// header matches are the routeMatch's.
type grpcMatch struct {
	service, method nameMatch
	info            GRPCMatch
}

// compareGRPC is the GRPCRoute tier of compareCandidates: a GRPCRoute
// match (non-nil) before an HTTPRoute match (nil); between GRPCRoute
// matches, following GRPCRouteRule.Matches ("characters in a matching
// service, characters in a matching method"), the service first: an Exact
// service before a RegularExpression, before none at all, then the most
// characters (of the name or the pattern); then the method likewise.
// Exact ranks above RegularExpression as it does for HTTPRoute paths.
func compareGRPC(a, b *grpcMatch) int {
	switch {
	case a == nil && b == nil:
		return 0
	case b == nil:
		return -1
	case a == nil:
		return 1
	}
	if c := cmp.Compare(a.service.kind, b.service.kind); c != 0 {
		return c
	}
	if c := cmp.Compare(len(b.service.value), len(a.service.value)); c != 0 {
		return c
	}
	if c := cmp.Compare(a.method.kind, b.method.kind); c != 0 {
		return c
	}
	return cmp.Compare(len(b.method.value), len(a.method.value))
}

// isGRPCRequest reports whether r is a gRPC request: its Content-Type is
// application/grpc, alone or with a "+format" or parameters (gRPC-Web's
// application/grpc-web is not).
func isGRPCRequest(r *http.Request) bool {
	ct := r.Header["Content-Type"]
	if len(ct) == 0 {
		return false
	}
	rest, ok := strings.CutPrefix(ct[0], "application/grpc")
	return ok && (rest == "" || rest[0] == '+' || rest[0] == ';')
}

// splitGRPCPath returns the service and method of a gRPC request path,
// "/{service}/{method}"; a path of another shape matches no method match.
func splitGRPCPath(path string) (service, method string, ok bool) {
	rest, ok := strings.CutPrefix(path, "/")
	if !ok {
		return "", "", false
	}
	service, method, ok = strings.Cut(rest, "/")
	return service, method, ok && service != "" && method != "" && !strings.Contains(method, "/")
}

// grpcIndex holds the GRPCRoute candidates of one hostname: those with an
// Exact service by service name, the others (a RegularExpression service,
// or none) in one list. Every Exact-service candidate takes precedence
// over the others (compareGRPC), so a request looks up its service first.
type grpcIndex struct {
	byService map[string][]*candidate
	other     []*candidate
}

func (gi *grpcIndex) add(c *candidate) {
	if g := c.match.grpc; g.service.kind == nameExact {
		if gi.byService == nil {
			gi.byService = map[string][]*candidate{}
		}
		gi.byService[g.service.value] = append(gi.byService[g.service.value], c)
		return
	}
	gi.other = append(gi.other, c)
}

func (gi *grpcIndex) sort() {
	for _, l := range gi.byService {
		slices.SortStableFunc(l, compareCandidates)
	}
	slices.SortStableFunc(gi.other, compareCandidates)
}

// find returns the GRPCRoute candidate of highest precedence that matches
// the gRPC request r with path path.
func (gi *grpcIndex) find(path string, r *http.Request) *candidate {
	service, method, ok := splitGRPCPath(path)
	if ok {
		for _, c := range gi.byService[service] {
			if c.match.grpcMatches(r, service, method, ok) {
				return c
			}
		}
	}
	for _, c := range gi.other {
		if c.match.grpcMatches(r, service, method, ok) {
			return c
		}
	}
	return nil
}

// grpcMatches reports whether a gRPC request for service and method (ok
// false when its path is not of that shape) satisfies the GRPCRoute
// match m.
func (m *routeMatch) grpcMatches(r *http.Request, service, method string, ok bool) bool {
	g := m.grpc
	if g.service.kind != nameAny || g.method.kind != nameAny {
		if !ok || !g.service.matches(service) || !g.method.matches(method) {
			return false
		}
	}
	for i := range m.headers {
		if !m.headers[i].matches(r) {
			return false
		}
	}
	return true
}

// The CRD's patterns of Exact service and method names.
var (
	grpcServicePattern = regexp.MustCompile(`^(?i)\.?[a-z_][a-z_0-9]*(\.[a-z_][a-z_0-9]*)*$`)
	grpcMethodPattern  = regexp.MustCompile(`^[A-Za-z_][A-Za-z_0-9]*$`)
)

// compileGRPCMatch applies the CRD defaults to one GRPCRouteMatch and
// compiles it. Its headers are compiled as an HTTPRoute's (the two kinds
// of header match have the same fields and semantics). Problems are
// reported against path, the field path of the match.
func compileGRPCMatch(m *gatewayv1.GRPCRouteMatch, path *field.Path) (*routeMatch, *field.Error) {
	hm := gatewayv1.HTTPRouteMatch{Headers: make([]gatewayv1.HTTPHeaderMatch, len(m.Headers))}
	for i, h := range m.Headers {
		hm.Headers[i] = gatewayv1.HTTPHeaderMatch{Type: (*gatewayv1.HeaderMatchType)(h.Type), Name: gatewayv1.HTTPHeaderName(h.Name), Value: h.Value}
	}
	out, fe := compileMatch(&hm, path)
	if fe != nil {
		return nil, fe
	}
	g := &grpcMatch{service: nameMatch{kind: nameAny}, method: nameMatch{kind: nameAny}}
	out.grpc = g
	mm := m.Method
	if mm == nil {
		return out, nil
	}
	mp := path.Child("method")
	g.info.Type = gatewayv1.GRPCMethodMatchExact
	if mm.Type != nil {
		g.info.Type = *mm.Type
	}
	if mm.Service != nil {
		g.info.Service = *mm.Service
	}
	if mm.Method != nil {
		g.info.Method = *mm.Method
	}
	if g.info.Service == "" && g.info.Method == "" {
		return nil, field.Invalid(mp, "", "One or both of 'service' or 'method' must be specified")
	}
	for _, n := range []struct {
		value   string
		name    string
		pattern *regexp.Regexp
		into    *nameMatch
	}{
		{g.info.Service, "service", grpcServicePattern, &g.service},
		{g.info.Method, "method", grpcMethodPattern, &g.method},
	} {
		if n.value == "" {
			continue
		}
		fp := mp.Child(n.name)
		if len(n.value) > 1024 {
			return nil, field.TooLong(fp, "", 1024)
		}
		switch g.info.Type {
		case gatewayv1.GRPCMethodMatchExact:
			if !n.pattern.MatchString(n.value) {
				return nil, field.Invalid(fp, n.value, n.name+" must only contain valid characters (matching "+n.pattern.String()+")")
			}
			*n.into = nameMatch{kind: nameExact, value: n.value}
		case gatewayv1.GRPCMethodMatchRegularExpression:
			re, err := compileWhole(n.value)
			if err != nil {
				return nil, field.Invalid(fp, n.value, "invalid RE2 regular expression: "+err.Error())
			}
			*n.into = nameMatch{kind: nameRegex, value: n.value, re: re}
		default:
			return nil, field.NotSupported(mp.Child("type"), g.info.Type,
				[]gatewayv1.GRPCMethodMatchType{gatewayv1.GRPCMethodMatchExact, gatewayv1.GRPCMethodMatchRegularExpression})
		}
	}
	return out, nil
}

package httproute

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// TestCompareCandidatesGRPCTiers pins each GRPCRoute tier of
// compareCandidates: the winner beats the loser in exactly that tier and
// ties every tier before it, while the loser wins every tier after it.
func TestCompareCandidatesGRPCTiers(t *testing.T) {
	created := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	name := func(k nameKind, v string) nameMatch { return nameMatch{kind: k, value: v} }
	mk := func(grpc bool, service, method nameMatch, headers int, created time.Time, ruleIdx int) *candidate {
		m := &routeMatch{kind: pathPrefix, pathLen: 1, headers: make([]headerMatcher, headers)}
		if grpc {
			m.grpc = &grpcMatch{service: service, method: method}
		} else {
			// An HTTPRoute match winning every HTTPRoute tier.
			m.kind, m.pathLen, m.method = pathExact, 99, "POST"
		}
		r := &compiledRoute{namespace: "a", name: "a", key: "a/a", created: created}
		return &candidate{host: rankHost("x.com"), match: m, rule: &rule{route: r, index: ruleIdx}}
	}
	any := name(nameAny, "")
	tests := []struct {
		name          string
		winner, loser *candidate
	}{
		{"a GRPCRoute match before an HTTPRoute match",
			mk(true, any, any, 0, created.Add(time.Hour), 9),
			mk(false, any, any, 9, created, 0)},
		{"an Exact service before a longer RegularExpression",
			mk(true, name(nameExact, "pkg.A"), any, 0, created.Add(time.Hour), 9),
			mk(true, name(nameRegex, "pkg\\.A|pkg\\.B"), name(nameExact, "Get"), 9, created, 0)},
		{"a RegularExpression service before none",
			mk(true, name(nameRegex, "p.*"), any, 0, created.Add(time.Hour), 9),
			mk(true, any, name(nameExact, "GetEverything"), 9, created, 0)},
		{"the longer service",
			mk(true, name(nameExact, "pkg.Long"), any, 0, created.Add(time.Hour), 9),
			mk(true, name(nameExact, "pkg.A"), name(nameExact, "Get"), 9, created, 0)},
		{"an Exact method before a longer RegularExpression",
			mk(true, name(nameExact, "pkg.A"), name(nameExact, "Get"), 0, created.Add(time.Hour), 9),
			mk(true, name(nameExact, "pkg.A"), name(nameRegex, "Get|Put|List"), 9, created, 0)},
		{"the longer method",
			mk(true, name(nameExact, "pkg.A"), name(nameExact, "GetAll"), 0, created.Add(time.Hour), 9),
			mk(true, name(nameExact, "pkg.A"), name(nameExact, "Get"), 9, created, 0)},
		{"the most header matches",
			mk(true, name(nameExact, "pkg.A"), name(nameExact, "Get"), 2, created.Add(time.Hour), 9),
			mk(true, name(nameExact, "pkg.A"), name(nameExact, "Get"), 1, created, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkPrecedence(t, tt.winner, tt.loser) })
	}
}

// TestGRPCMatchDoesNotAllocate checks that matching a gRPC request
// against the GRPCRoute index allocates nothing.
func TestGRPCMatchDoesNotAllocate(t *testing.T) {
	m, fe := compileGRPCMatch(grpcMethod("RegularExpression", "pkg\\..*", "Get"), nil)
	if fe != nil {
		t.Fatal(fe)
	}
	gi := &grpcIndex{}
	gi.add(&candidate{match: m})
	r := httptest.NewRequest("POST", "/pkg.Echo/Get", strings.NewReader(""))
	r.Header.Set("Content-Type", "application/grpc")
	if gi.find("/pkg.Echo/Get", r) == nil {
		t.Fatal("no match")
	}
	if n := testing.AllocsPerRun(100, func() { isGRPCRequest(r); gi.find("/pkg.Echo/Get", r) }); n != 0 {
		t.Errorf("%v allocations per match, want 0", n)
	}
}

func grpcMethod(typ, service, method string) *gatewayv1.GRPCRouteMatch {
	t := gatewayv1.GRPCMethodMatchType(typ)
	return &gatewayv1.GRPCRouteMatch{Method: &gatewayv1.GRPCMethodMatch{Type: &t, Service: &service, Method: &method}}
}

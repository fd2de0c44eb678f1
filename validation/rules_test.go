package validation_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/httproute/httproute/validation"
)

const routeHead = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: web
spec:
`

const gatewayHead = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: gw
spec:
  gatewayClassName: httproute
`

// repeat returns n YAML list items made from a template with %d for the
// item's index.
func repeat(n int, indent, template string) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(indent + "- " + fmt.Sprintf(template, i) + "\n")
	}
	return b.String()
}

// ruleTests are one test per rule of the CRDs (and the library's checks),
// each with the exact problems the API server reports.
var ruleTests = []struct {
	name    string
	channel validation.Channel
	in      string
	want    []string
}{
	{
		name: "valid route",
		in:   routeHead + "  rules:\n  - backendRefs: [{name: web, port: 80}]\n",
	},
	{
		name: "path value must start with a slash",
		in:   routeHead + "  rules:\n  - matches: [{path: {type: PathPrefix, value: api}}]\n",
		want: []string{
			"spec.rules[0].matches[0].path: Invalid value: value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']",
		},
	},
	{
		name: "path value with a character outside the allowed set",
		in:   routeHead + "  rules:\n  - matches: [{path: {type: Exact, value: /a b}}]\n",
		want: []string{
			"spec.rules[0].matches[0].path: Invalid value: must only contain valid characters (matching ^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$) for types ['Exact', 'PathPrefix']",
		},
	},
	{
		name: "path value with a double slash",
		in:   routeHead + "  rules:\n  - matches: [{path: {type: PathPrefix, value: /a//b}}]\n",
		want: []string{
			"spec.rules[0].matches[0].path: Invalid value: must not contain '//' when type one of ['Exact', 'PathPrefix']",
		},
	},
	{
		name: "path value too long",
		in:   routeHead + "  rules:\n  - matches: [{path: {type: PathPrefix, value: /" + strings.Repeat("a", 1024) + "}}]\n",
		want: []string{
			"spec.rules[0].matches[0].path.value: Too long: may not be more than 1024 bytes",
			"<nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation",
		},
	},
	{
		name: "ReplacePrefixMatch without a PathPrefix match",
		in: routeHead + `  rules:
  - matches: [{path: {type: Exact, value: /a}}]
    filters:
    - type: URLRewrite
      urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /b}}
    backendRefs: [{name: web, port: 80}]
`,
		want: []string{
			"spec.rules[0]: Invalid value: When using URLRewrite filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified",
		},
	},
	{
		name: "URLRewrite path type without its value",
		in: routeHead + `  rules:
  - filters:
    - type: URLRewrite
      urlRewrite: {path: {type: ReplaceFullPath, replacePrefixMatch: /b}}
`,
		want: []string{
			"spec.rules[0].filters[0].urlRewrite.path: Invalid value: replaceFullPath must be specified when type is set to 'ReplaceFullPath'",
			"spec.rules[0].filters[0].urlRewrite.path: Invalid value: type must be 'ReplacePrefixMatch' when replacePrefixMatch is set",
		},
	},
	{
		name: "RequestRedirect with backendRefs",
		in: routeHead + `  rules:
  - filters:
    - type: RequestRedirect
      requestRedirect: {scheme: https}
    backendRefs: [{name: web, port: 80}]
`,
		want: []string{
			"spec.rules[0]: Invalid value: RequestRedirect filter must not be used together with backendRefs",
		},
	},
	{
		name: "RequestRedirect with URLRewrite",
		in: routeHead + `  rules:
  - filters:
    - type: RequestRedirect
      requestRedirect: {scheme: https}
    - type: URLRewrite
      urlRewrite: {hostname: example.com}
`,
		want: []string{
			"spec.rules[0].filters: Invalid value: May specify either httpRouteFilterRequestRedirect or httpRouteFilterRequestRewrite, but not both",
		},
	},
	{
		name: "duplicate filter types",
		in: routeHead + `  rules:
  - filters:
    - type: RequestHeaderModifier
      requestHeaderModifier: {set: [{name: a, value: b}]}
    - type: RequestHeaderModifier
      requestHeaderModifier: {remove: [c]}
`,
		want: []string{
			"spec.rules[0].filters: Invalid value: RequestHeaderModifier filter cannot be repeated",
		},
	},
	{
		name: "filter field that does not match its type",
		in: routeHead + `  rules:
  - filters:
    - type: RequestHeaderModifier
      responseHeaderModifier: {remove: [c]}
`,
		want: []string{
			"spec.rules[0].filters[0]: Invalid value: filter.requestHeaderModifier must be specified for RequestHeaderModifier filter.type",
			"spec.rules[0].filters[0]: Invalid value: filter.responseHeaderModifier must be nil if the filter.type is not ResponseHeaderModifier",
		},
	},
	{
		name: "redirect status code not supported",
		in: routeHead + `  rules:
  - filters:
    - type: RequestRedirect
      requestRedirect: {statusCode: 305}
`,
		want: []string{
			"spec.rules[0].filters[0].requestRedirect.statusCode: Unsupported value: 305: supported values: \"301\", \"302\", \"303\", \"307\", \"308\"",
			"<nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation",
		},
	},
	{
		name: "weight out of range",
		in:   routeHead + "  rules:\n  - backendRefs: [{name: web, port: 80, weight: 1000001}]\n",
		want: []string{
			"spec.rules[0].backendRefs[0].weight: Invalid value: 1000001: spec.rules[0].backendRefs[0].weight in body should be less than or equal to 1000000",
		},
	},
	{
		name: "Service backendRef without a port",
		in:   routeHead + "  rules:\n  - backendRefs: [{name: web}]\n",
		want: []string{
			"spec.rules[0].backendRefs[0]: Invalid value: Must have port for Service reference",
		},
	},
	{
		name: "backendRef port out of range",
		in:   routeHead + "  rules:\n  - backendRefs: [{name: web, port: 0}]\n",
		want: []string{
			"spec.rules[0].backendRefs[0].port: Invalid value: 0: spec.rules[0].backendRefs[0].port in body should be greater than or equal to 1",
		},
	},
	{
		name: "too many rules",
		in:   routeHead + "  rules:\n" + repeat(17, "  ", "backendRefs: [{name: web%d, port: 80}]"),
		want: []string{
			"spec.rules: Too many: 17: must have at most 16 items",
			"<nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation",
		},
	},
	{
		name: "too many matches in a rule",
		in:   routeHead + "  rules:\n  - matches:\n" + repeat(65, "    ", "path: {value: /p%d}"),
		want: []string{
			"spec.rules[0].matches: Too many: 65: must have at most 64 items",
			"<nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation",
		},
	},
	{
		name: "too many matches in a route",
		in:   routeHead + "  rules:\n" + strings.Repeat("  - matches:\n"+repeat(64, "    ", "path: {value: /p%d}"), 3),
		want: []string{
			"spec.rules: Invalid value: While 16 rules and 64 matches per rule are allowed, the total number of matches across all rules in a route must be less than 128",
		},
	},
	{
		name: "invalid header name",
		in:   routeHead + "  rules:\n  - matches: [{headers: [{name: 'x y', value: a}]}]\n",
		want: []string{
			"spec.rules[0].matches[0].headers[0].name: Invalid value: \"x y\": spec.rules[0].matches[0].headers[0].name in body should match '^[A-Za-z0-9!#$%&'*+\\-.^_\\x60|~]+$'",
		},
	},
	{
		name: "duplicate header match",
		in:   routeHead + "  rules:\n  - matches: [{headers: [{name: a, value: b}, {name: a, value: c}]}]\n",
		want: []string{
			"spec.rules[0].matches[0].headers[1]: Duplicate value: {\"name\":\"a\"}",
		},
	},
	{
		name: "duplicate rule names in the standard channel (v1.7)",
		in:   routeHead + "  rules:\n  - name: a\n  - name: a\n",
		want: []string{
			"spec.rules: Invalid value: Rule name must be unique within the route",
		},
	},
	{
		name:    "duplicate rule names in the experimental channel",
		channel: validation.Experimental,
		in:      routeHead + "  rules:\n  - name: a\n  - name: a\n",
		want: []string{
			"spec.rules: Invalid value: Rule name must be unique within the route",
		},
	},
	{
		name: "duplicate query parameter match",
		in:   routeHead + "  rules:\n  - matches: [{queryParams: [{name: a, value: b}, {name: a, value: c}]}]\n",
		want: []string{
			"spec.rules[0].matches[0].queryParams[1]: Duplicate value: {\"name\":\"a\"}",
		},
	},
	{
		name: "query parameter value of the wrong type (the seed's value: 2)",
		in:   routeHead + "  rules:\n  - matches:\n    - queryParams:\n      - {type: Exact, name: version, value: 2}\n      method: POST\n",
		want: []string{
			"spec.rules[0].matches[0].queryParams[0].value: Invalid value: \"integer\": spec.rules[0].matches[0].queryParams[0].value in body must be of type string: \"integer\"",
			"<nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation",
		},
	},
	{
		name: "unsupported method",
		in:   routeHead + "  rules:\n  - matches: [{method: FETCH}]\n",
		want: []string{
			"spec.rules[0].matches[0].method: Unsupported value: \"FETCH\": supported values: \"GET\", \"HEAD\", \"POST\", \"PUT\", \"DELETE\", \"CONNECT\", \"OPTIONS\", \"TRACE\", \"PATCH\"",
			"<nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation",
		},
	},
	{
		name: "invalid hostname",
		in:   routeHead + "  hostnames: [Example.COM]\n",
		want: []string{
			"spec.hostnames[0]: Invalid value: \"Example.COM\": spec.hostnames[0] in body should match '^(\\*\\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$'",
		},
	},
	{
		name: "IP address as hostname",
		in:   routeHead + "  hostnames: [\"10.0.0.1\"]\n",
		want: []string{
			"spec.hostnames[0]: Invalid value: \"10.0.0.1\": must be a DNS name, not an IP address",
		},
	},
	{
		name: "too many hostnames",
		in:   routeHead + "  hostnames:\n" + repeat(17, "  ", "h%d.example.com"),
		want: []string{
			"spec.hostnames: Too many: 17: must have at most 16 items",
			"<nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation",
		},
	},
	{
		name: "too many parentRefs",
		in:   routeHead + "  parentRefs:\n" + repeat(33, "  ", "{name: gw, sectionName: s%d}"),
		want: []string{
			"spec.parentRefs: Too many: 33: must have at most 32 items",
			"<nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation",
		},
	},
	{
		name: "timeouts backendRequest longer than request",
		in:   routeHead + "  rules:\n  - timeouts: {request: 1s, backendRequest: 2s}\n",
		want: []string{
			"spec.rules[0].timeouts: Invalid value: backendRequest timeout cannot be longer than request timeout",
		},
	},
	{
		name: "timeout with an invalid duration",
		in:   routeHead + "  rules:\n  - timeouts: {request: 1 hour}\n",
		want: []string{
			"spec.rules[0].timeouts.request: Invalid value: \"1 hour\": spec.rules[0].timeouts.request in body should match '^([0-9]{1,5}(h|m|s|ms)){1,4}$'",
		},
	},
	{
		name: "header modifier with duplicate names",
		in: routeHead + `  rules:
  - filters:
    - type: RequestHeaderModifier
      requestHeaderModifier: {set: [{name: a, value: b}, {name: a, value: c}]}
`,
		want: []string{
			"spec.rules[0].filters[0].requestHeaderModifier.set[1]: Duplicate value: {\"name\":\"a\"}",
		},
	},
	{
		name: "mirror with both percent and fraction",
		in: routeHead + `  rules:
  - filters:
    - type: RequestMirror
      requestMirror: {backendRef: {name: m, port: 80}, percent: 10, fraction: {numerator: 1}}
`,
		want: []string{
			"spec.rules[0].filters[0].requestMirror: Invalid value: Only one of percent or fraction may be specified in HTTPRequestMirrorFilter",
		},
	},
	{
		name: "regular expression RE2 cannot compile",
		in: routeHead + `  rules:
  - matches:
    - path: {type: RegularExpression, value: "/a(?=b)"}
      headers: [{type: RegularExpression, name: x, value: "(["}]
      queryParams: [{type: RegularExpression, name: q, value: "a)|(b"}]
`,
		want: []string{
			"spec.rules[0].matches[0].headers[0].value: Invalid value: \"([\": invalid RE2 regular expression: error parsing regexp: missing closing ]: `[`",
			"spec.rules[0].matches[0].path.value: Invalid value: \"/a(?=b)\": invalid RE2 regular expression: error parsing regexp: invalid or unsupported Perl syntax: `(?=`",
			"spec.rules[0].matches[0].queryParams[0].value: Invalid value: \"a)|(b\": invalid RE2 regular expression: error parsing regexp: unexpected ): `a)|(b`",
		},
	},
	{
		name: "unknown field",
		in:   routeHead + "  rules:\n  - backendRefs: [{name: web, port: 80, namespce: other}]\n",
		want: []string{
			"spec.rules[0].backendRefs[0].namespce: Forbidden: unknown field",
		},
	},
	{
		name: "experimental field in the standard channel",
		in:   routeHead + "  rules:\n  - sessionPersistence: {cookie: {name: s}}\n    backendRefs: [{name: web, port: 80}]\n",
		want: []string{
			"spec.rules[0].sessionPersistence: Forbidden: unknown field",
		},
	},
	{
		name: "retry is in the standard channel since v1.7",
		in:   routeHead + "  rules:\n  - retry: {attempts: 0, codes: [502, 504], backoff: 100ms}\n    backendRefs: [{name: web, port: 80}]\n",
	},
	{
		name:    "experimental field in the experimental channel",
		channel: validation.Experimental,
		in:      routeHead + "  rules:\n  - sessionPersistence: {type: Header, header: {name: X-S}}\n    backendRefs: [{name: web, port: 80}]\n",
	},
	{
		name:    "retry code out of range",
		channel: validation.Experimental,
		in:      routeHead + "  rules:\n  - retry: {codes: [200]}\n",
		want: []string{
			"spec.rules[0].retry.codes[0]: Invalid value: 200: spec.rules[0].retry.codes[0] in body should be greater than or equal to 400",
		},
	},
	{
		name: "name is not a DNS subdomain",
		in:   strings.Replace(routeHead, "name: web", "name: Web_1", 1) + "  hostnames: [web.example.com]\n",
		want: []string{
			"metadata.name: Invalid value: \"Web_1\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
		},
	},
	{
		name: "namespace is not a DNS label",
		in:   strings.Replace(routeHead, "name: web", "name: web\n  namespace: My.NS", 1) + "  hostnames: [web.example.com]\n",
		want: []string{
			"metadata.namespace: Invalid value: \"My.NS\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
		},
	},
	{
		name: "invalid label",
		in:   strings.Replace(routeHead, "name: web", "name: web\n  labels: {'a b': c}", 1) + "  hostnames: [web.example.com]\n",
		want: []string{
			"metadata.labels: Invalid value: \"a b\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
		},
	},
	{
		name: "missing spec",
		in:   strings.TrimSuffix(routeHead, "spec:\n"),
		want: []string{
			"spec: Required value",
			"<nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation",
		},
	},
	{
		name: "Gateway listener port out of range",
		in:   gatewayHead + "  listeners: [{name: http, protocol: HTTP, port: 65536}]\n",
		want: []string{
			"spec.listeners[0].port: Invalid value: 65536: spec.listeners[0].port in body should be less than or equal to 65535",
		},
	},
	{
		name: "Gateway with duplicate listener names",
		in:   gatewayHead + "  listeners: [{name: http, protocol: HTTP, port: 80}, {name: http, protocol: HTTP, port: 8080}]\n",
		want: []string{
			"spec.listeners: Invalid value: Listener name must be unique within the Gateway",
			"spec.listeners[1]: Duplicate value: {\"name\":\"http\"}",
		},
	},
	{
		name: "Gateway HTTP listener with TLS",
		in:   gatewayHead + "  listeners: [{name: http, protocol: HTTP, port: 80, tls: {certificateRefs: [{name: cert}]}}]\n",
		want: []string{
			"spec.listeners: Invalid value: tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']",
		},
	},
	{
		name: "Gateway listener hostname that is an IP address",
		in:   gatewayHead + "  listeners: [{name: http, protocol: HTTP, port: 80, hostname: \"10.0.0.1\"}]\n",
		want: []string{
			"spec.listeners[0].hostname: Invalid value: \"10.0.0.1\": must be a DNS name, not an IP address",
		},
	},
	{
		name: "Gateway TCP listener with a hostname",
		in:   gatewayHead + "  listeners: [{name: tcp, protocol: TCP, port: 9000, hostname: a.example.com}]\n",
		want: []string{
			"spec.listeners: Invalid value: hostname must not be specified for protocols ['TCP', 'UDP']",
		},
	},
	{
		name: "Gateway without a class",
		in:   strings.Replace(gatewayHead, "  gatewayClassName: httproute\n", "", 1) + "  listeners: [{name: http, protocol: HTTP, port: 80}]\n",
		want: []string{
			"spec.gatewayClassName: Required value",
			"<nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation",
		},
	},
	{
		name: "Gateway with too many listeners",
		in:   gatewayHead + "  listeners:\n" + repeat(65, "  ", "{name: l%d, protocol: HTTP, port: 80}"),
		want: []string{
			"spec.listeners: Too many: 65: must have at most 64 items",
			"<nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation",
		},
	},
	{
		name: "ReferenceGrant without from",
		in:   "apiVersion: gateway.networking.k8s.io/v1beta1\nkind: ReferenceGrant\nmetadata: {name: g}\nspec:\n  to: [{group: '', kind: Service}]\n",
		want: []string{
			"spec.from: Required value",
		},
	},
}

func TestRules(t *testing.T) {
	for _, tt := range ruleTests {
		t.Run(tt.name, func(t *testing.T) {
			objs, err := readDocuments([]byte(tt.in))
			if err != nil || len(objs) != 1 {
				t.Fatalf("reading the test's YAML: %d objects, %v", len(objs), err)
			}
			var got []string
			for _, fe := range validators[tt.channel].Validate(objs[0]) {
				got = append(got, fe.Error())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

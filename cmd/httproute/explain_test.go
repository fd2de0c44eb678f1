package main

import "testing"

func TestExplain(t *testing.T) {
	runCases(t, "explain", []commandCase{{
		name: "a DirectResponse route",
		args: []string{"-config", "example", "http://example.com/hello/world"},
		stdout: `gateway   default/web
listener  http (port 80)
route     default/hello
rule      0
match     0: PathPrefix /hello
backends  (none: the rule's filters answer, or it answers 500)
`,
	}, {
		name: "a Service backend",
		args: []string{"-config", "example", "-X", "POST", "-H", "Content-Type: text/plain", "http://example.com/api"},
		stdout: `gateway   default/web
listener  http (port 80)
route     default/app
rule      0
match     0: PathPrefix /
backends  default/app:8080  weight 1
`,
	}, {
		name: "listener hostname, header match, unresolved backend",
		args: []string{"-config", "testdata/explain", "-H", "X-Canary: yes", "http://shop.example:8080/cart"},
		stdout: `gateway   default/gw
listener  shop (port 8080)
hostname  shop.example
route     default/shop
rule      1 (name canary)
match     0: PathPrefix /cart
backends  default/cart-v2:80  weight 9  unresolved (its share answers 500): httproute default/shop: spec.rules[1].backendRefs[0].name: Invalid value: "cart-v2": service default/cart-v2: httproute: object not found
          default/cart:80     weight 1
`,
		reason: "the header match wins over the rule without it; the Service without an object is reported as serve would serve it",
	}, {
		name: "the rule without the header",
		args: []string{"-config", "testdata/explain", "http://shop.example:8080/cart"},
		stdout: `gateway   default/gw
listener  shop (port 8080)
hostname  shop.example
route     default/shop
rule      0
match     0: PathPrefix /cart
backends  default/cart:80  weight 1
`,
	}, {
		name: "-port",
		args: []string{"-config", "testdata/explain", "-port", "80", "-H", "Host: shop.example", "http://127.0.0.1:8080/cart"},
		code: 1,
		stdout: `no rule matches GET http://127.0.0.1:8080/cart on listener port 80: the Router answers 404 (or redirects or refuses a path it does not serve as sent)
no Gateway served declares listener port 80; the ports served are 8080
`,
	}, {
		name: "Host header",
		args: []string{"-config", "testdata/explain", "-H", "Host: shop.example", "http://127.0.0.1:8080/cart"},
		stdout: `gateway   default/gw
listener  shop (port 8080)
hostname  shop.example
route     default/shop
rule      0
match     0: PathPrefix /cart
backends  default/cart:80  weight 1
`,
	}, {
		name:   "another hostname",
		args:   []string{"-config", "testdata/explain", "http://other.example:8080/cart"},
		code:   1,
		stdout: "no rule matches GET http://other.example:8080/cart on listener port 8080: the Router answers 404 (or redirects or refuses a path it does not serve as sent)\n",
	}, {
		name: "-gateway-class",
		args: []string{"-config", "example", "-gateway-class", "other", "http://example.com/hello"},
		code: 1,
		stdout: `no rule matches GET http://example.com/hello on listener port 80: the Router answers 404 (or redirects or refuses a path it does not serve as sent)
no Gateway served declares listener port 80; the ports served are none
`,
		reason: "the Gateway is of class httproute: serve -gateway-class other would not serve it",
	}, {
		name:   "a configuration that does not load",
		args:   []string{"-config", "testdata/check/bad/redirect.yaml", "http://example.com/"},
		code:   1,
		stderr: "the configuration does not load (serve would refuse it):\n  testdata/check/bad/redirect.yaml:7:5: httproute default/redirect: spec.rules[0]: Invalid value: RequestRedirect filter must not be used together with backendRefs\n",
	}, {
		name:   "no -config",
		args:   []string{"http://example.com/"},
		code:   2,
		stderr: "httproute explain: -config is required\n",
	}, {
		name:   "relative URL",
		args:   []string{"-config", "example", "/hello"},
		code:   2,
		stderr: "httproute explain: want an absolute http or https URL, got \"/hello\"\n",
	}, {
		name:   "malformed header",
		args:   []string{"-config", "example", "-H", "X-A", "http://example.com/"},
		code:   2,
		stderr: "httproute explain: invalid header \"X-A\": want 'Name: value'\n",
	}})
}

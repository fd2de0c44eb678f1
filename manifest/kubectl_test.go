package manifest

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// kubectlReads returns the JSON content kubectl apply sends for a YAML
// document: sigs.k8s.io/yaml's conversion, as k8s.io/apimachinery's
// YAMLOrJSONDecoder calls it, decoded as the API server decodes JSON.
func kubectlReads(doc string) (any, error) {
	js, err := yaml.YAMLToJSON([]byte(doc))
	if err != nil {
		return nil, err
	}
	var v any
	err = kjson.UnmarshalCaseSensitivePreserveInts(js, &v)
	return v, err
}

// loaderReads returns the content the loader reads from a YAML document.
func loaderReads(doc string) (any, error) {
	root, err := parseDocument([]byte(doc))
	if err != nil || root == nil {
		return nil, err
	}
	return newConverter(root).value(root, 0)
}

// TestReadingMatchesKubectl compares, key by key and value by value, what
// the loader reads with what kubectl sends: YAML 1.1 booleans, integers in
// every base, floats, timestamps, tags, !!binary, keys that are not
// strings, merge keys.
func TestReadingMatchesKubectl(t *testing.T) {
	scalars := []string{
		"yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF",
		"y", "Y", "n", "N", "true", "True", "TRUE", "false", "False", "FALSE", "tRue",
		"~", "null", "Null", "NULL", `""`, "''", "'on'", `"yes"`,
		"0755", "0o17", "0x1F", "0X1f", "0b101", "-0b101", "+0b11", "1_000", "-1_0", "+12", "012345678",
		"9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
		"18446744073709551615", "18446744073709551616", "123456789012345678901234",
		"1e3", "1E3", "9.2e18", "1e19", "4.5e15", "0.000001", "1e-7", "123456789.125", "1.5", ".5", "-.5", "+.5", "1.", "1.0", "1e21", "1e20", "1e400", "-0.0", "0.1e-7", "1_000.5",
		"2001-12-14", "2001-12-14T21:59:43.10-05:00", "2001-12-14 21:59:43.10", "2001-12-14t21:59:43.10Z", "2001-13-99",
		"12:30", "1:20:30", "0b2", "0x", "-", "+", ".", "..", "-.", "1e", "1-2",
		"!!str yes", "!!str 12", "!!int 0x10", "!!int '12'", "!!float 1", "!!float 1.5", "!!bool yes", "!!bool 'on'",
		"!!null ~", "!!null ''", "!!timestamp 2001-12-14", "!foo bar", "!<tag:yaml.org,2002:str> yes",
		"!!binary aGVsbG8=", "!!binary Zm9vLmV4YW1wbGUuY29t", "!!binary /w==", "!!binary |\n  aGVs\n  bG8=",
		"!!int foo", "!!bool 1", "!!null x", "!!float x", "!!timestamp 2001", "!!binary ???",
		"|\n  on", ">-\n  yes", "plain text", "a: b",
	}
	var docs []string
	for _, s := range scalars {
		docs = append(docs, "value: "+strings.ReplaceAll(s, "\n", "\n  ")+"\n")
		if !strings.Contains(s, "\n") {
			docs = append(docs, s+": 1\n", "? "+s+"\n: 1\n")
		}
	}
	docs = append(docs,
		"1.5: a\n3.14159265358979: b\n0x10: c\n-1: d\n.inf: e\n-.inf: f\n.nan: g\n",
		"labels: {on: a, 'on': b}\n",
		"base: &b {name: x, port: 1}\nover: {name: y, <<: *b}\n",
		"base: &b {name: x, port: 1}\nunder: {<<: *b, name: y}\n",
		"a: &a {k: 1}\nb: &b {k: 2, j: 3}\nc: {<<: [*a, *b]}\n",
		"a: &a {k: 1}\nc: {<<: {<<: *a, j: 2}, k: 3}\n",
		"s: !!seq [a]\nm: !!map {a: 1}\nt: !custom [on]\n",
		"[a]: 1\n",
		"{a: 1}: 1\n",
		"a: !!str [1]\n",
	)
	for _, doc := range docs {
		want, wantErr := kubectlReads(doc)
		got, gotErr := loaderReads(doc)
		if (wantErr != nil) != (gotErr != nil) {
			t.Errorf("%q: kubectl error %v, loader error %v", doc, wantErr, gotErr)
			continue
		}
		if wantErr != nil {
			continue
		}
		// Both through JSON, as they reach the API server.
		js, err := json.Marshal(got)
		if err != nil {
			t.Errorf("%q: %v", doc, err)
			continue
		}
		var sent any
		if err := kjson.UnmarshalCaseSensitivePreserveInts(js, &sent); err != nil {
			t.Errorf("%q: %v", doc, err)
			continue
		}
		if diff := cmp.Diff(want, sent); diff != "" {
			t.Errorf("%q (-kubectl +loader):\n%s", doc, diff)
		}
		if diff := cmp.Diff(sent, got); diff != "" {
			t.Errorf("%q: the loader's values are not those JSON gives (-json +loader):\n%s", doc, diff)
		}
	}
}

// TestKubectlParity pins what issue 19 found the loader reading otherwise
// than kubectl and a real API server: generateName without a name,
// !!binary scalars, YAML 1.1 booleans as keys, unknown fields reported
// alone in the server's words.
func TestKubectlParity(t *testing.T) {
	const suffix = `[bcdfghjklmnpqrstvwxz2456789]{5}`
	tests := []struct {
		name string
		in   string
		// want are patterns of the errors, one per line.
		want []string
		// check inspects what loaded.
		check func(t *testing.T, m *Manifests)
	}{{
		name: "generateName without a name is named as the API server names it",
		in: `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  generateName: web-
spec:
  rules:
  - backendRefs: [{name: web, port: 80}]
`,
		check: func(t *testing.T, m *Manifests) {
			if len(m.Config.HTTPRoutes) != 1 || !regexp.MustCompile(`^web-`+suffix+`$`).MatchString(m.Config.HTTPRoutes[0].Name) {
				t.Errorf("routes %v, want one named web-xxxxx", m.Config.HTTPRoutes)
			}
		},
	}, {
		name: "an invalid generateName is reported on it and on the generated name",
		in: `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  generateName: Web_
spec: {}
`,
		want: []string{
			`^in\.yaml:4:3: httproute default/Web_` + suffix + `: metadata\.generateName: Invalid value: "Web_": a lowercase RFC 1123 subdomain must consist of .*$`,
			`^in\.yaml:3:1: httproute default/Web_` + suffix + `: metadata\.name: Invalid value: "Web_` + suffix + `": a lowercase RFC 1123 subdomain must consist of .*$`,
		},
	}, {
		name: "!!binary hostname and header value are decoded",
		in: `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web}
spec:
  hostnames: [!!binary Zm9vLmV4YW1wbGUuY29t]
  rules:
  - matches:
    - headers: [{name: x-greeting, value: !!binary aGVsbG8=}]
    backendRefs: [{name: web, port: 80}]
`,
		check: func(t *testing.T, m *Manifests) {
			if len(m.Config.HTTPRoutes) != 1 {
				t.Fatalf("routes %v", m.Config.HTTPRoutes)
			}
			r := m.Config.HTTPRoutes[0]
			got := []string{string(r.Spec.Hostnames[0]), r.Spec.Rules[0].Matches[0].Headers[0].Value}
			if diff := cmp.Diff([]string{"foo.example.com", "hello"}, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		},
	}, {
		name: "a key written on is the key true, for labels",
		in: `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: web
  labels: {on: "x", yes: "y"}
spec: {}
`,
		want: []string{`^in\.yaml:5:21: document 1: mapping key "true" \(yes\) already defined at line 5$`},
	}, {
		name: "a key written on is the key true, in labels that load",
		in: `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: web
  labels: {on: "x", 1.50: "y"}
spec: {}
`,
		check: func(t *testing.T, m *Manifests) {
			if diff := cmp.Diff(map[string]string{"true": "x", "1.5": "y"}, m.Config.HTTPRoutes[0].Labels); diff != "" {
				t.Errorf("labels (-want +got):\n%s", diff)
			}
		},
	}, {
		name: "a key written on under spec is the unknown field spec.true",
		in: `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web}
spec:
  on: 1
`,
		want: []string{`^in\.yaml:5:3: httproute default/web: strict decoding error: unknown field "spec\.true"$`},
	}, {
		name: "unknown fields alone, in the server's words, with the channel hint",
		in: `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web}
spec:
  rules:
  - filters:
    - type: ExternalAuth
      externalAuth: {protocol: HTTP, backendRef: {name: auth, port: 80}}
    backendRefs: [{name: web, port: 80}]
`,
		want: []string{`^in\.yaml:8:7: httproute default/web: strict decoding error: unknown field "spec\.rules\[0\]\.filters\[0\]\.externalAuth"; it is not in the standard channel: experimental fields need the experimental channel$`},
	}, {
		name: "unknown fields alone, with other problems in the document",
		in: `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web}
spec:
  hostnames: ["-bad-"]
  rules:
  - matchs: []
    backendRefs: [{name: web, port: "80"}]
`,
		want: []string{`^in\.yaml:7:5: httproute default/web: strict decoding error: unknown field "spec\.rules\[0\]\.matchs"; did you mean "matches"\?$`},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Decode(Options{Validator: standard}, "in.yaml", strings.NewReader(tt.in))
			got := errorLines(err)
			if len(got) != len(tt.want) {
				t.Fatalf("errors:\n%s\nwant %d matching:\n%s", strings.Join(got, "\n"), len(tt.want), strings.Join(tt.want, "\n"))
			}
			for i, w := range tt.want {
				if !regexp.MustCompile(w).MatchString(got[i]) {
					t.Errorf("error %d:\n%s\ndoes not match\n%s", i, got[i], w)
				}
			}
			if tt.check != nil {
				tt.check(t, m)
			}
		})
	}
}

// TestGeneratedNameIsStable checks that a generated name is the same on
// every load, so that a reload does not rename the route, and differs
// between two documents with the same generateName.
func TestGeneratedNameIsStable(t *testing.T) {
	doc := "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {generateName: web-}\nspec: {}\n"
	var names []string
	for range 2 {
		m, err := Decode(Options{Validator: standard}, "in.yaml", strings.NewReader(doc+"---\n"+doc))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range m.Config.HTTPRoutes {
			names = append(names, r.Name)
		}
	}
	if len(names) != 4 || names[0] != names[2] || names[1] != names[3] || names[0] == names[1] {
		t.Errorf("names %v: want two distinct names, the same on both loads", names)
	}
}

package directresponse_test

import (
	"net/http"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/extension/directresponse"
	"github.com/httproute/httproute/httproutetest"
	"github.com/httproute/httproute/manifest"
)

// seedDirectResponse and seedRoute are the seed's manifests, verbatim.
const seedDirectResponse = `apiVersion: gateway.kgateway.dev/v1alpha1
kind: DirectResponse
metadata:
 name: direct-response
 namespace: httpbin
spec:
 status: 404
 body: "User-agent: *\nDisallow: /direct-response\n"
`

// seedGateway is the Gateway the seed's route names in its parentRefs.
const seedGateway = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: http
  namespace: httpbin
spec:
  gatewayClassName: any
  listeners:
  - {name: http, port: 80, protocol: HTTP}
`

const seedRoute = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: httpbin-direct-resonse
  namespace: httpbin
spec:
  parentRefs:
  - name: http
  rules:
  - matches:
    - path:
        type: PathPrefix
        value: /
    backendRefs:
    - name: httpbin
      port: 8000
  - matches:
    - path:
        type: Exact
        value: /direct-response
    filters:
    - type: ExtensionRef
      extensionRef:
       name: direct-response
       group: gateway.kgateway.dev
       kind: DirectResponse
`

func TestSeedDirectResponse(t *testing.T) {
	env := httproutetest.New(t, httproutetest.Options{Extensions: []httproute.Extension{directresponse.Extension()}},
		seedDirectResponse, seedGateway, seedRoute)
	robots := "User-agent: *\nDisallow: /direct-response\n"
	env.Run(t, []httproutetest.Case{
		{Name: "direct response", Request: httproutetest.Request{Path: "/direct-response"},
			Want: httproutetest.Want{Status: 404, Body: robots, Backend: "-",
				Header: map[string]string{"Content-Type": "text/plain", "Content-Length": "41"}}},
		{Name: "HEAD has no body", Request: httproutetest.Request{Method: "HEAD", Path: "/direct-response"},
			Want: httproutetest.Want{Status: 404, Backend: "-"}},
		{Name: "everything else is proxied", Request: httproutetest.Request{Path: "/get"},
			Want: httproutetest.Want{Status: 200, Backend: "httpbin/httpbin:8000", BackendPath: "/get"}},
		{Name: "Exact does not match below", Request: httproutetest.Request{Path: "/direct-response/x"},
			Want: httproutetest.Want{Status: 200, Backend: "httpbin/httpbin:8000"}},
	})
	st := env.Router.Status().HTTPRoutes[types.NamespacedName{Namespace: "httpbin", Name: "httpbin-direct-resonse"}]
	for _, c := range st.Parents[0].Conditions {
		if c.Status != "True" {
			t.Errorf("condition %s is %s: %s", c.Type, c.Status, c.Message)
		}
	}
}

func TestDecodeSeedWithSigsYAML(t *testing.T) {
	var d directresponse.DirectResponse
	if err := yaml.UnmarshalStrict([]byte(seedDirectResponse), &d); err != nil {
		t.Fatal(err)
	}
	if d.Spec.StatusCode != 404 || d.Spec.Body == nil || *d.Spec.Body != "User-agent: *\nDisallow: /direct-response\n" ||
		d.Name != "direct-response" || d.Namespace != "httpbin" {
		t.Errorf("decoded %+v", d)
	}
	c := d.DeepCopyObject().(*directresponse.DirectResponse)
	*c.Spec.Body = "changed"
	if *d.Spec.Body == "changed" {
		t.Error("DeepCopyObject shares the body")
	}
}

func TestValidate(t *testing.T) {
	long := strings.Repeat("x", directresponse.MaxBodyLength+1)
	empty := ""
	max := strings.Repeat("x", directresponse.MaxBodyLength)
	accents := strings.Repeat("é", 4000) // 8000 bytes, 4000 characters
	format := "%RESPONSE_CODE%"
	tests := []struct {
		name string
		spec directresponse.Spec
		want string
	}{
		{"status 200", directresponse.Spec{StatusCode: 200}, ""},
		{"status 599 with a 4 KiB body", directresponse.Spec{StatusCode: 599, Body: &max}, ""},
		{"4000 two-byte characters", directresponse.Spec{StatusCode: 200, Body: &accents}, ""},
		{"status 199", directresponse.Spec{StatusCode: 199},
			"DirectResponse ns/dr: spec.status: Invalid value: 199: must be between 200 and 599"},
		{"status unset", directresponse.Spec{},
			"DirectResponse ns/dr: spec.status: Invalid value: 0: must be between 200 and 599"},
		{"status 600 and a long body", directresponse.Spec{StatusCode: 600, Body: &long},
			`DirectResponse ns/dr: spec.status: Invalid value: 600: must be between 200 and 599; spec.body: Invalid value: "": must be at most 4096 characters long`},
		{"empty body", directresponse.Spec{StatusCode: 200, Body: &empty},
			`DirectResponse ns/dr: spec.body: Invalid value: "": must be at least 1 character long when set`},
		{"bodyFormat", directresponse.Spec{StatusCode: 200, BodyFormat: &format},
			"DirectResponse ns/dr: spec.bodyFormat: Forbidden: Envoy format strings are not supported; use spec.body"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := &directresponse.DirectResponse{Spec: tc.spec}
			d.Name, d.Namespace = "dr", "ns"
			_, err := directresponse.New(d)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("err = %v", err)
			case tc.want != "" && (err == nil || err.Error() != tc.want):
				t.Errorf("err = %v\nwant %s", err, tc.want)
			}
		})
	}
}

func TestInvalidObjectAnswers500(t *testing.T) {
	env := httproutetest.New(t, httproutetest.Options{Extensions: []httproute.Extension{directresponse.Extension()}},
		strings.Replace(seedDirectResponse, "status: 404", "status: 700", 1), seedGateway, seedRoute)
	env.Run(t, []httproutetest.Case{
		{Name: "invalid object", Request: httproutetest.Request{Path: "/direct-response"}, Want: httproutetest.Want{Status: http.StatusInternalServerError, Backend: "-"}},
		{Name: "other rule serves", Request: httproutetest.Request{Path: "/x"}, Want: httproutetest.Want{Status: 200}},
	})
	st := env.Router.Status().HTTPRoutes[types.NamespacedName{Namespace: "httpbin", Name: "httpbin-direct-resonse"}]
	want := `spec.rules[1].filters[0].extensionRef.name: Invalid value: "direct-response": DirectResponse httpbin/direct-response: spec.status: Invalid value: 700: must be between 200 and 599`
	found := false
	for _, c := range st.Parents[0].Conditions {
		if c.Type == "ResolvedRefs" && c.Status == "False" && c.Message == want {
			found = true
		}
	}
	if !found {
		t.Errorf("conditions = %+v\nwant ResolvedRefs False: %s", st.Parents[0].Conditions, want)
	}
}

func TestLoadsWithTheManifestLoader(t *testing.T) {
	m, err := manifest.Decode(manifest.Options{Extensions: []httproute.Extension{directresponse.Extension()}},
		"seed.yaml", strings.NewReader(seedDirectResponse+"---\n"+seedRoute))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Config.Objects) != 1 || len(m.Config.HTTPRoutes) != 1 {
		t.Fatalf("loaded %d objects and %d routes", len(m.Config.Objects), len(m.Config.HTTPRoutes))
	}
	d, ok := m.Config.Objects[0].(*directresponse.DirectResponse)
	if !ok || d.Spec.StatusCode != 404 || d.GetObjectKind().GroupVersionKind() != directresponse.GroupVersionKind {
		t.Errorf("object = %#v", m.Config.Objects[0])
	}
}

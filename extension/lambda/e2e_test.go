package lambda_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/extension/lambda"
)

// The seed's Backend and HTTPRoute, exactly as the seed writes them, and
// the Secret they name.
const seedManifests = `
apiVersion: gateway.kgateway.dev/v1alpha1
kind: Backend
metadata:
  name: lambda
  namespace: kgateway-system
spec:
  aws:
    region: us-east-1
    secretRef:
      name: aws-creds
      namespace: kgateway-system
    lambdaFunctions:
    - lambdaFunctionName: echo
      logicalName: echo
      qualifier: $LATEST
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: lambda
  namespace: kgateway-system
spec:
  parentRefs:
    - name: http
  rules:
  - matches:
    - path:
        type: PathPrefix
        value: /echo
    backendRefs:
    - name: lambda
      namespace: kgateway-system
      group: gateway.kgateway.dev
      kind: Backend
      filters:
        - type: ExtensionRef
          extensionRef:
            group: "gateway.kgateway.dev"
            kind: Parameter
            name: echo
`

const seedSecret = `
apiVersion: v1
kind: Secret
metadata:
  name: aws-creds
  namespace: kgateway-system
stringData:
  accessKey: ` + testAccessKey + `
  secretKey: ` + testSecretKey + `
  sessionToken: ""
type: Opaque
`

// currentBackend is a Backend of kgateway's current shape named fn
// invoking function with the given extra lines under spec.aws.lambda.
func currentBackend(function, extra string) string {
	return `
apiVersion: gateway.kgateway.dev/v1alpha1
kind: Backend
metadata:
  name: fn
  namespace: default
spec:
  type: AWS
  aws:
    region: us-east-1
    accountId: "123456789012"
    lambda:
      functionName: ` + function + `
` + extra + `
---
` + routeTo("fn")
}

// eventOf decodes the event the test function echoed in its body.
func eventOf(t *testing.T, body string) lambda.Event {
	t.Helper()
	var ev lambda.Event
	if err := json.Unmarshal([]byte(body), &ev); err != nil {
		t.Fatalf("the body is not an echoed event: %v\n%s", err, body)
	}
	return ev
}

// TestEmulator runs every Lambda path end to end: Router, Backend, AWS
// SDK with SigV4, the fake Lambda API, the emulator and a real
// aws-lambda-go function. The subtests share one emulator, which takes one
// invoke at a time, so they run in sequence.
func TestEmulator(t *testing.T) {
	rie, function := buildBinaries(t)
	emulator := startEmulator(t, rie, function)
	front, frontURL := newFakeLambda(t, emulator)
	opts := lambda.Options{
		Endpoint:    frontURL,
		Credentials: lambda.StaticCredentials(testAccessKey, testSecretKey, ""),
	}

	t.Run("seed route", func(t *testing.T) {
		cfg, secrets := manifests(t, seedManifests+"\n---\n"+seedSecret)
		cfg.Extensions = lambda.Extensions(lambda.Options{Endpoint: frontURL, Credentials: lambda.SecretCredentials(secrets)})
		cfg.IgnoreParentRefs = true // the seed's routes name a Gateway the tests do not load
		rt, err := httproute.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		res := serve(t, rt, "POST", "http://example.com/echo?name=seed", []byte(`{"hello":"lambda"}`),
			http.Header{"Content-Type": {"application/json"}})
		body := readAll(t, res)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("status %d, body %q", res.StatusCode, body)
		}
		ev := eventOf(t, body)
		if ev.RawPath != "/echo?name=seed" || ev.Method != "POST" || ev.Body != `{"hello":"lambda"}` || ev.IsBase64Encoded {
			t.Errorf("event = %+v", ev)
		}
		if got := front.last(t).Function; got != "echo:$LATEST" {
			t.Errorf("invoked %q, want the seed's function by name and qualifier, echo:$LATEST", got)
		}
		st := rt.Status()
		for _, rs := range st.HTTPRoutes {
			for _, ps := range rs.Parents {
				for _, c := range ps.Conditions {
					if c.Type == "ResolvedRefs" && c.Status != "True" {
						t.Errorf("ResolvedRefs = %s: %s", c.Status, c.Message)
					}
				}
			}
		}
	})

	t.Run("seed route with the Secret in the Config", func(t *testing.T) {
		// No Options.Credentials: the Backend's secretRef is read from
		// httproute.Config.Secrets through the Router, and the invoke is
		// signed with it (the front checks the signature).
		cfg, secrets := manifests(t, seedManifests+"\n---\n"+seedSecret)
		cfg.Secrets = secrets
		cfg.Extensions = lambda.Extensions(lambda.Options{Endpoint: frontURL})
		cfg.IgnoreParentRefs = true // the seed's routes name a Gateway the tests do not load
		rt, err := httproute.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		res := serve(t, rt, "POST", "http://example.com/echo", []byte(`{}`), http.Header{"Content-Type": {"application/json"}})
		if body := readAll(t, res); res.StatusCode != http.StatusOK {
			t.Fatalf("status %d, body %q", res.StatusCode, body)
		}

		// Without the Secret in the Config the reference does not resolve,
		// and the route says so.
		cfg.Secrets = nil
		cfg.Strict = false // serve around the problem and report it
		rt, err = httproute.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		res = serve(t, rt, "POST", "http://example.com/echo", []byte(`{}`), http.Header{"Content-Type": {"application/json"}})
		readAll(t, res)
		if res.StatusCode != http.StatusInternalServerError {
			t.Fatalf("status %d without the Secret, want 500 (unresolved backendRef)", res.StatusCode)
		}
		found := false
		for _, rs := range rt.Status().HTTPRoutes {
			for _, ps := range rs.Parents {
				for _, c := range ps.Conditions {
					if c.Type == "ResolvedRefs" && c.Status == "False" && strings.Contains(c.Message, "secret kgateway-system/aws-creds") {
						found = true
					}
				}
			}
		}
		if !found {
			t.Errorf("no ResolvedRefs=False condition naming the missing Secret: %+v", rt.Status().HTTPRoutes)
		}
	})

	t.Run("transform sync", func(t *testing.T) {
		rt := newRouter(t, opts, currentBackend("echo", "      qualifier: live"))
		res := serve(t, rt, "GET", "http://example.com/a/b?status=201&x=1&x=2&y=a%20b&flag", nil,
			http.Header{"X-Test": {"a", "b"}})
		body := readAll(t, res)
		if res.StatusCode != http.StatusCreated {
			t.Fatalf("status %d, body %q", res.StatusCode, body)
		}
		want := lambda.Event{
			RawPath: "/a/b?status=201&x=1&x=2&y=a%20b&flag",
			Method:  "GET",
			Headers: map[string]string{
				"x-test":            "a,b",
				"x-forwarded-for":   "192.0.2.1",
				"x-forwarded-host":  "example.com",
				"x-forwarded-proto": "http",
			},
			QueryStringParameters: map[string]string{"status": "201", "x": "1", "y": "a%20b", "flag": ""},
		}
		if diff := cmp.Diff(want, eventOf(t, body)); diff != "" {
			t.Errorf("event (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"a=1; HttpOnly", "b=2"}, res.Header.Values("Set-Cookie")); diff != "" {
			t.Errorf("cookies (-want +got):\n%s", diff)
		}
		if got := res.Header.Get("X-Function"); got != "testfunction" {
			t.Errorf("X-Function = %q", got)
		}
		if got := res.Header.Get("Content-Type"); got != "application/json" {
			t.Errorf("Content-Type = %q", got)
		}
		if got := res.Header.Get("Content-Length"); got != strconv.Itoa(len(body)) {
			t.Errorf("Content-Length = %q, body %d bytes", got, len(body))
		}
		inv := front.last(t)
		if inv.Function != "arn:aws:lambda:us-east-1:123456789012:function:echo:live" || inv.Type != "RequestResponse" {
			t.Errorf("invoke of %q (%s), want the ARN with its qualifier, RequestResponse", inv.Function, inv.Type)
		}
	})

	t.Run("transform text body", func(t *testing.T) {
		rt := newRouter(t, opts, currentBackend("echo", ""))
		res := serve(t, rt, "PUT", "http://example.com/doc", []byte("<p>héllo</p>"),
			http.Header{"Content-Type": {"text/html; charset=utf-8"}})
		ev := eventOf(t, readAll(t, res))
		if ev.Body != "<p>héllo</p>" || ev.IsBase64Encoded || ev.Headers["content-length"] != "13" {
			t.Errorf("event body %q base64 %v content-length %q, want the text as is", ev.Body, ev.IsBase64Encoded, ev.Headers["content-length"])
		}
		if got := front.last(t).Function; got != "arn:aws:lambda:us-east-1:123456789012:function:echo:$LATEST" {
			t.Errorf("invoked %q, want qualifier $LATEST by default", got)
		}
	})

	t.Run("transform binary body", func(t *testing.T) {
		rt := newRouter(t, opts, currentBackend("echo", ""))
		in := make([]byte, 256)
		for i := range in {
			in[i] = byte(i)
		}
		res := serve(t, rt, "POST", "http://example.com/binary", in, http.Header{"Content-Type": {"application/octet-stream"}})
		body := readAll(t, res)
		if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/octet-stream" {
			t.Fatalf("status %d, Content-Type %q, body %q", res.StatusCode, res.Header.Get("Content-Type"), body)
		}
		for i := range in {
			if body[i] != ^byte(i) {
				t.Fatalf("byte %d = %#x, want %#x", i, body[i], ^byte(i))
			}
		}
	})

	t.Run("transform snake_case answer", func(t *testing.T) {
		rt := newRouter(t, opts, currentBackend("echo", ""))
		res := serve(t, rt, "GET", "http://example.com/snake", nil, nil)
		if body := readAll(t, res); res.StatusCode != http.StatusCreated || body != "snake" {
			t.Errorf("status %d body %q, want 201 snake", res.StatusCode, body)
		}
	})

	t.Run("transform off", func(t *testing.T) {
		rt := newRouter(t, opts, currentBackend("echo", "      payloadTransformMode: None"))
		in := `{"hello": ["raw", "payload"]}`
		res := serve(t, rt, "POST", "http://example.com/ignored?q=1", []byte(in), http.Header{"Content-Type": {"text/plain"}})
		body := readAll(t, res)
		if res.StatusCode != http.StatusOK || body != `{"raw":{"hello":["raw","payload"]}}` || res.Header.Get("Content-Type") != "application/json" {
			t.Errorf("status %d, Content-Type %q, body %q", res.StatusCode, res.Header.Get("Content-Type"), body)
		}
		if got := string(front.last(t).Payload); got != in {
			t.Errorf("payload %q, want the body as is", got)
		}
	})

	t.Run("async", func(t *testing.T) {
		rt := newRouter(t, opts, currentBackend("echo", "      invocationMode: Async"))
		before := len(front.invocations())
		res := serve(t, rt, "POST", "http://example.com/later", []byte("event"), nil)
		if body := readAll(t, res); res.StatusCode != http.StatusAccepted || body != "" {
			t.Errorf("status %d body %q, want 202 and no body", res.StatusCode, body)
		}
		log := front.invocations()
		if len(log) != before+1 {
			t.Fatalf("%d invokes, want 1", len(log)-before)
		}
		inv := log[len(log)-1]
		if inv.Type != "Event" || !strings.Contains(string(inv.Answer), `\"raw_path\":\"/later\"`) {
			t.Errorf("invoke type %q, function answered %s", inv.Type, inv.Answer)
		}
	})

	t.Run("function error", func(t *testing.T) {
		rt := newRouter(t, opts, currentBackend("echo", ""))
		res := serve(t, rt, "GET", "http://example.com/fail", nil, nil)
		body := readAll(t, res)
		if res.StatusCode != http.StatusBadGateway || body != "lambda: the function failed (Unhandled)\n" ||
			res.Header.Get("X-Amz-Function-Error") != "Unhandled" {
			t.Errorf("status %d, X-Amz-Function-Error %q, body %q", res.StatusCode, res.Header.Get("X-Amz-Function-Error"), body)
		}
	})

	t.Run("function error without transform", func(t *testing.T) {
		rt := newRouter(t, opts, currentBackend("echo", "      payloadTransformMode: None"))
		res := serve(t, rt, "POST", "http://example.com/", []byte(`{"fail":true}`), nil)
		if body := readAll(t, res); res.StatusCode != http.StatusBadGateway || body != "lambda: the function failed (Unhandled)\n" {
			t.Errorf("status %d, body %q", res.StatusCode, body)
		}
	})

	t.Run("malformed answers", func(t *testing.T) {
		rt := newRouter(t, opts, currentBackend("echo", ""))
		for path, want := range map[string]string{
			"/malformed": "lambda: the function's answer is not a valid response: the payload is not a JSON object\n",
			"/badbase64": "lambda: the function's answer is not a valid response: isBase64Encoded is true but the body is not base64\n",
		} {
			res := serve(t, rt, "GET", "http://example.com"+path, nil, nil)
			if body := readAll(t, res); res.StatusCode != http.StatusBadGateway || body != want {
				t.Errorf("%s: status %d, body %q, want 502 %q", path, res.StatusCode, body, want)
			}
		}
	})

	t.Run("throttled", func(t *testing.T) {
		rt := newRouter(t, opts, currentBackend("throttled", ""))
		res := serve(t, rt, "GET", "http://example.com/", nil, nil)
		body := readAll(t, res)
		if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") != "7" ||
			body != "lambda: the function is throttled (TooManyRequestsException)\n" {
			t.Errorf("status %d, Retry-After %q, body %q", res.StatusCode, res.Header.Get("Retry-After"), body)
		}
	})

	t.Run("function not found", func(t *testing.T) {
		rt := newRouter(t, opts, currentBackend("missing", ""))
		res := serve(t, rt, "GET", "http://example.com/", nil, nil)
		if body := readAll(t, res); res.StatusCode != http.StatusBadGateway ||
			body != "lambda: the Lambda API refused the invoke: 404 ResourceNotFoundException\n" {
			t.Errorf("status %d, body %q", res.StatusCode, body)
		}
	})

	t.Run("signature rejected", func(t *testing.T) {
		bad := opts
		bad.Credentials = lambda.StaticCredentials(testAccessKey, "not-the-secret", "")
		rt := newRouter(t, bad, currentBackend("echo", ""))
		before := len(front.invocations())
		res := serve(t, rt, "GET", "http://example.com/", nil, nil)
		if body := readAll(t, res); res.StatusCode != http.StatusBadGateway ||
			body != "lambda: the Lambda API refused the invoke: 403 InvalidSignatureException\n" {
			t.Errorf("status %d, body %q", res.StatusCode, body)
		}
		if n := len(front.invocations()) - before; n != 0 {
			t.Errorf("%d invokes reached the function", n)
		}
	})

	t.Run("request context", func(t *testing.T) {
		docs := strings.Replace(currentBackend("slow", ""), "      name: fn\n",
			"      name: fn\n    timeouts:\n      backendRequest: 200ms\n", 1)
		rt := newRouter(t, opts, docs)
		start := time.Now()
		res := serve(t, rt, "GET", "http://example.com/", nil, nil)
		if res.StatusCode != http.StatusGatewayTimeout {
			t.Errorf("status %d, want 504", res.StatusCode)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("the invoke took %v after the timeout", d)
		}

		b := backendOf(t, opts, currentBackend("slow", ""))
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		req := httptest.NewRequestWithContext(ctx, "GET", "http://example.com/", nil)
		if _, err := b.RoundTrip(req); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("RoundTrip error %v, want one wrapping context.DeadlineExceeded", err)
		}
	})

	t.Run("seed shape picks by logical name", func(t *testing.T) {
		docs := `
apiVersion: gateway.kgateway.dev/v1alpha1
kind: Backend
metadata:
  name: fns
  namespace: default
spec:
  aws:
    lambdaFunctions:
    - lambdaFunctionName: echo
      logicalName: first
    - lambdaFunctionName: echo
      logicalName: second
      qualifier: "7"
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: route
  namespace: default
spec:
  rules:
  - matches:
    - path: {type: PathPrefix, value: /first}
    backendRefs:
    - group: gateway.kgateway.dev
      kind: Backend
      name: fns
      filters:
      - type: ExtensionRef
        extensionRef: {group: gateway.kgateway.dev, kind: Parameter, name: first}
  - matches:
    - path: {type: PathPrefix, value: /second}
    backendRefs:
    - group: gateway.kgateway.dev
      kind: Backend
      name: fns
      filters:
      - type: ExtensionRef
        extensionRef: {group: gateway.kgateway.dev, kind: Parameter, name: second}
`
		rt := newRouter(t, opts, docs)
		for _, tc := range []struct {
			path, function string
		}{
			{"/first", "echo:$LATEST"},
			{"/second", "echo:7"},
		} {
			res := serve(t, rt, "GET", "http://example.com"+tc.path, nil, nil)
			if body := readAll(t, res); res.StatusCode != http.StatusOK {
				t.Errorf("%s: status %d, body %q", tc.path, res.StatusCode, body)
			}
			if got := front.last(t).Function; got != tc.function {
				t.Errorf("%s invoked %q, want %q", tc.path, got, tc.function)
			}
		}
	})

	t.Run("quick start", func(t *testing.T) {
		// The quick start points straight at the emulator: no signature,
		// and the emulator's one function in place of the seed's.
		rt := newRouter(t, lambda.Options{Local: true, Endpoint: emulator, FunctionName: "function"}, seedManifests)
		res := serve(t, rt, "GET", "http://example.com/echo/hi", nil, nil)
		body := readAll(t, res)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("status %d, body %q", res.StatusCode, body)
		}
		if ev := eventOf(t, body); ev.RawPath != "/echo/hi" {
			t.Errorf("raw_path %q", ev.RawPath)
		}
	})
}

// backendOf builds the Backend of the first object of docs.
func backendOf(t *testing.T, opts lambda.Options, docs string) httproute.Backend {
	t.Helper()
	cfg, _ := manifests(t, docs)
	b, err := lambda.New(opts).NewBackend(cfg.Objects[0].(*lambda.Backend))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

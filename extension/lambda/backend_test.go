package lambda_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/extension/lambda"
)

// TestLocalWithoutEndpoint is the quick start run without an emulator:
// the seed's route answers 503 and says what to configure.
func TestLocalWithoutEndpoint(t *testing.T) {
	rt := newRouter(t, lambda.Options{Local: true}, seedManifests)
	res := serve(t, rt, "GET", "http://example.com/echo", nil, nil)
	want := "lambda: Backend kgateway-system/lambda has no Lambda endpoint to invoke: lambda.Options.Local is set and " +
		"neither lambda.Options.Endpoint nor spec.aws.lambda.endpointURL names one. Start a local Lambda emulator " +
		"(such as the AWS Lambda Runtime Interface Emulator) and set lambda.Options.Endpoint to its address, " +
		"for example http://127.0.0.1:9001.\n"
	if body := readAll(t, res); res.StatusCode != http.StatusServiceUnavailable || body != want {
		t.Errorf("status %d, body %q; want 503 %q", res.StatusCode, body, want)
	}
}

func TestEndpointUnreachable(t *testing.T) {
	addr := freeAddr(t)
	rt := newRouter(t, lambda.Options{Local: true, Endpoint: "http://" + addr}, seedManifests)
	res := serve(t, rt, "GET", "http://example.com/echo", nil, nil)
	if body := readAll(t, res); res.StatusCode != http.StatusServiceUnavailable || body != "lambda: cannot connect to the Lambda endpoint "+addr+"\n" {
		t.Errorf("status %d, body %q", res.StatusCode, body)
	}
}

func TestInvalidOptionsEndpoint(t *testing.T) {
	cfg, _ := manifests(t, seedManifests)
	_, err := lambda.New(lambda.Options{Local: true, Endpoint: "127.0.0.1:9001"}).NewBackend(cfg.Objects[0].(*lambda.Backend))
	want := `backend kgateway-system/lambda: lambda.Options.Endpoint "127.0.0.1:9001" must be an http:// or https:// URL`
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
}

// lambdaAPI is a Lambda API on loopback that answers every invoke with
// status, header and body, counts invokes and keeps the Authorization
// header and path of the last one.
func lambdaAPI(t *testing.T, status int, header http.Header, body string) (string, *atomic.Int32, *sync.Map) {
	var n atomic.Int32
	var seen sync.Map
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		seen.Store("Authorization", r.Header.Get("Authorization"))
		seen.Store("Path", r.URL.Path)
		io.Copy(io.Discard, r.Body)
		for k, v := range header {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &n, &seen
}

func TestLambdaAPIErrors(t *testing.T) {
	for _, tc := range []struct {
		name       string
		status     int
		errorType  string
		wantStatus int
		wantBody   string
	}{
		{"service exception", 500, "ServiceException", 502, "lambda: the Lambda API refused the invoke: 500 ServiceException\n"},
		{"not ready", 502, "ResourceNotReadyException", 502, "lambda: the Lambda API refused the invoke: 502 ResourceNotReadyException\n"},
		{"payload too large", 413, "RequestTooLargeException", 413, "lambda: the invoke payload is too large (RequestTooLargeException)\n"},
		{"throttled without Lambda's type", 429, "SlowDown", 429, "lambda: the function is throttled (SlowDown)\n"},
		{"no error type", 400, "", 502, "lambda: the Lambda API refused the invoke: 400 UnknownError\n"},
		{"access denied", 403, "AccessDeniedException", 502, "lambda: the Lambda API refused the invoke: 403 AccessDeniedException\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{"Retry-After": {"3"}}
			if tc.errorType != "" {
				h.Set("X-Amzn-Errortype", tc.errorType)
			}
			endpoint, _, _ := lambdaAPI(t, tc.status, h, `{"message":"details for the log only"}`)
			rt := newRouter(t, lambda.Options{Local: true, Endpoint: endpoint}, seedManifests)
			res := serve(t, rt, "GET", "http://example.com/echo", nil, nil)
			if body := readAll(t, res); res.StatusCode != tc.wantStatus || body != tc.wantBody {
				t.Errorf("status %d, body %q; want %d %q", res.StatusCode, body, tc.wantStatus, tc.wantBody)
			}
			if wantRA := map[bool]string{true: "3"}[tc.wantStatus == 429]; res.Header.Get("Retry-After") != wantRA {
				t.Errorf("Retry-After %q, want %q", res.Header.Get("Retry-After"), wantRA)
			}
		})
	}
}

func TestPayloadLimit(t *testing.T) {
	endpoint, n, _ := lambdaAPI(t, 200, nil, `{"body":"ok"}`)
	rt := newRouter(t, lambda.Options{Local: true, Endpoint: endpoint, MaxPayloadBytes: 8}, seedManifests)
	for _, tc := range []struct {
		name string
		body []byte
		// chunked hides the length, so that the limit is found by reading.
		chunked    bool
		wantStatus int
	}{
		{"at the limit", bytes.Repeat([]byte("a"), 8), false, 200},
		{"over the limit", bytes.Repeat([]byte("a"), 9), false, 413},
		{"over the limit, length unknown", bytes.Repeat([]byte("a"), 9), true, 413},
	} {
		before := n.Load()
		req := httptest.NewRequest("POST", "http://example.com/echo", bytes.NewReader(tc.body))
		if tc.chunked {
			req.ContentLength = -1
		}
		rec := httptest.NewRecorder()
		rt.ServeHTTP(rec, req)
		if rec.Code != tc.wantStatus {
			t.Errorf("%s: status %d, want %d (%s)", tc.name, rec.Code, tc.wantStatus, rec.Body)
		}
		if tc.wantStatus == 413 {
			if rec.Body.String() != "lambda: the request body is larger than the 8-byte limit of an invoke\n" {
				t.Errorf("%s: body %q", tc.name, rec.Body)
			}
			if n.Load() != before {
				t.Errorf("%s: the function was invoked", tc.name)
			}
		}
	}
}

// TestLocalUnsigned checks that a Local provider without credentials
// sends unsigned invokes and one with credentials signs them.
func TestLocalUnsigned(t *testing.T) {
	endpoint, _, seen := lambdaAPI(t, 200, nil, `{}`)
	for _, tc := range []struct {
		name   string
		opts   lambda.Options
		signed bool
	}{
		{"no credentials", lambda.Options{Local: true, Endpoint: endpoint}, false},
		{"credentials", lambda.Options{Local: true, Endpoint: endpoint, Credentials: lambda.StaticCredentials(testAccessKey, testSecretKey, "")}, true},
	} {
		rt := newRouter(t, tc.opts, seedManifests)
		res := serve(t, rt, "GET", "http://example.com/echo", nil, nil)
		if res.StatusCode != 200 {
			t.Fatalf("%s: status %d", tc.name, res.StatusCode)
		}
		auth, _ := seen.Load("Authorization")
		if got := auth.(string) != ""; got != tc.signed {
			t.Errorf("%s: Authorization %q, want signed %v", tc.name, auth, tc.signed)
		}
	}
}

// TestConcurrentInvokes sends requests from many goroutines through one
// Backend (run with -race).
func TestConcurrentInvokes(t *testing.T) {
	endpoint, n, _ := lambdaAPI(t, 200, nil, `{"statusCode":200,"body":"ok"}`)
	rt := newRouter(t, lambda.Options{Local: true, Endpoint: endpoint}, seedManifests)
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for i := range 8 {
		wg.Go(func() {
			for j := range 8 {
				req := httptest.NewRequest("POST", fmt.Sprintf("http://example.com/echo/%d/%d", i, j), bytes.NewReader([]byte("x")))
				rec := httptest.NewRecorder()
				rt.ServeHTTP(rec, req)
				if rec.Code != 200 || rec.Body.String() != "ok" {
					errs <- fmt.Sprintf("%d %q", rec.Code, rec.Body)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if n.Load() != 64 {
		t.Errorf("%d invokes, want 64", n.Load())
	}
}

// hermeticAWSEnv keeps the SDK's default chain to the environment: no
// shared files, no instance metadata.
func hermeticAWSEnv(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", dir+"/config")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", dir+"/credentials")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "")
	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "")
	t.Setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "")
}

// TestDefaultCredentialChain checks that a Backend naming no credentials
// signs with the SDK's default chain, here its environment variables.
func TestDefaultCredentialChain(t *testing.T) {
	hermeticAWSEnv(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDFROMENVIRONMENT1")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
	t.Setenv("AWS_SESSION_TOKEN", "")
	endpoint, _, seen := lambdaAPI(t, 200, nil, `{}`)
	rt := newRouter(t, lambda.Options{}, currentBackend("echo", "      endpointURL: "+endpoint))
	if res := serve(t, rt, "GET", "http://example.com/", nil, nil); res.StatusCode != 200 {
		t.Fatalf("status %d: %s", res.StatusCode, readAll(t, res))
	}
	auth, _ := seen.Load("Authorization")
	if !strings.Contains(auth.(string), "Credential=AKIDFROMENVIRONMENT1/") {
		t.Errorf("Authorization %q, want the environment's access key", auth)
	}

	// The zero Provider works as New(Options{}).
	cfg, _ := manifests(t, currentBackend("echo", "      endpointURL: "+endpoint))
	cfg.Extensions = new(lambda.Provider).Extensions()
	cfg.IgnoreParentRefs = true // the seed's routes name a Gateway the tests do not load
	zero, err := httproute.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res := serve(t, zero, "POST", "http://example.com/", []byte("body"), nil); res.StatusCode != 200 {
		t.Fatalf("zero Provider: status %d: %s", res.StatusCode, readAll(t, res))
	}
}

// TestAssumeRole checks that a Backend with auth type AssumeRole signs
// with the credentials STS gives for the role, asked with the default
// chain's. STS is a loopback server the SDK reaches through
// AWS_ENDPOINT_URL_STS.
func TestAssumeRole(t *testing.T) {
	hermeticAWSEnv(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDFROMENVIRONMENT1")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
	var stsCalls atomic.Int32
	var stsForm sync.Map
	sts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stsCalls.Add(1)
		r.ParseForm()
		stsForm.Store("Action", r.Form.Get("Action"))
		stsForm.Store("RoleArn", r.Form.Get("RoleArn"))
		stsForm.Store("Authorization", r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "text/xml")
		io.WriteString(w, `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <Credentials>
      <AccessKeyId>ASIAASSUMEDROLE00001</AccessKeyId>
      <SecretAccessKey>assumed-secret</SecretAccessKey>
      <SessionToken>assumed-token</SessionToken>
      <Expiration>2099-01-01T00:00:00Z</Expiration>
    </Credentials>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/invoker/httproute</Arn>
      <AssumedRoleId>AROAEXAMPLE:httproute</AssumedRoleId>
    </AssumedRoleUser>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ResponseMetadata>
</AssumeRoleResponse>`)
	}))
	t.Cleanup(sts.Close)
	t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)

	var invokeAuth, invokeToken atomic.Value
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		invokeAuth.Store(r.Header.Get("Authorization"))
		invokeToken.Store(r.Header.Get("X-Amz-Security-Token"))
		io.WriteString(w, `{}`)
	}))
	t.Cleanup(api.Close)
	docs := strings.Replace(currentBackend("echo", "      endpointURL: "+api.URL), "    lambda:\n",
		"    auth:\n      type: AssumeRole\n      assumeRole:\n        roleArn: arn:aws:iam::123456789012:role/invoker\n    lambda:\n", 1)
	rt := newRouter(t, lambda.Options{}, docs)
	for range 2 {
		if res := serve(t, rt, "GET", "http://example.com/", nil, nil); res.StatusCode != 200 {
			t.Fatalf("status %d: %s", res.StatusCode, readAll(t, res))
		}
	}
	if n := stsCalls.Load(); n != 1 {
		t.Errorf("%d calls to STS, want 1 (the credentials are cached)", n)
	}
	action, _ := stsForm.Load("Action")
	role, _ := stsForm.Load("RoleArn")
	stsAuth, _ := stsForm.Load("Authorization")
	if action != "AssumeRole" || role != "arn:aws:iam::123456789012:role/invoker" || !strings.Contains(stsAuth.(string), "Credential=AKIDFROMENVIRONMENT1/") {
		t.Errorf("STS got Action %v, RoleArn %v, Authorization %v", action, role, stsAuth)
	}
	if a := invokeAuth.Load().(string); !strings.Contains(a, "Credential=ASIAASSUMEDROLE00001/") || invokeToken.Load() != "assumed-token" {
		t.Errorf("invoke signed with %q, token %q; want the assumed role's", a, invokeToken.Load())
	}
}

// TestDeclaredLengthDoesNotReserveMemory sends requests that declare a
// body of nearly the payload limit and carry one byte: the Backend must
// not allocate what is declared before it arrives.
func TestDeclaredLengthDoesNotReserveMemory(t *testing.T) {
	endpoint, _, _ := lambdaAPI(t, 200, nil, `{"body":"ok"}`)
	rt := newRouter(t, lambda.Options{Local: true, Endpoint: endpoint}, seedManifests)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := 0; i < 10; i++ {
		req := httptest.NewRequest("POST", "http://example.com/echo", strings.NewReader("x"))
		req.ContentLength = 6<<20 - 1
		rt.ServeHTTP(httptest.NewRecorder(), req)
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 8<<20 {
		t.Fatalf("10 one-byte requests declaring 6 MiB allocated %d MiB", grew>>20)
	}
}

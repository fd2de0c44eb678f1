package lambda_test

// The harness of the end-to-end tests: the AWS Lambda Runtime Interface
// Emulator (RIE) running internal/testfunction, both built with the go
// command into a temporary directory, and fakeLambda in front of it, a
// small Lambda API endpoint that checks SigV4 signatures and adds what the
// emulator lacks (function names, function errors, throttling, Event
// invokes, one invoke at a time). Everything listens on 127.0.0.1.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Test credentials and region the fake Lambda API accepts.
const (
	testAccessKey = "AKIDEXAMPLETEST00001"
	testSecretKey = "test-secret-key-for-loopback-only"
	testRegion    = "us-east-1"
)

// buildBinaries builds the emulator and the test function into a
// temporary directory and returns their paths. The go command's build
// cache makes every build after the first quick.
func buildBinaries(tb testing.TB) (rie, function string) {
	tb.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		tb.Fatalf("the go command is needed to build the Lambda emulator: %v", err)
	}
	dir := tb.TempDir()
	cmd := exec.Command(goCmd, "build", "-o", dir+string(filepath.Separator),
		"github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie",
		"./internal/testfunction")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("building the emulator and the test function: %v\n%s", err, out)
	}
	return filepath.Join(dir, "aws-lambda-rie"), filepath.Join(dir, "testfunction")
}

// freeAddr returns a loopback address that was free a moment ago.
func freeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// syncBuffer collects the emulator's output for failure reports.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startEmulator runs the RIE with the function as its bootstrap, both of
// its listeners on explicit loopback addresses, and returns the base URL
// of its invoke API. The emulator and the function it starts are killed,
// as a process group, when the test ends.
func startEmulator(tb testing.TB, rie, function string) string {
	tb.Helper()
	invokeAddr, runtimeAddr := freeAddr(tb), freeAddr(tb)
	cmd := exec.Command(rie,
		"--runtime-interface-emulator-address", invokeAddr,
		"--runtime-api-address", runtimeAddr,
		"--log-level", "error",
		function)
	cmd.Env = append(os.Environ(), "AWS_LAMBDA_FUNCTION_TIMEOUT=10", "AWS_REGION="+testRegion)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Cleanup does not run when go test -timeout kills the binary: have
	// the kernel kill the emulator when its parent dies.
	setDeathSignal(cmd.SysProcAttr)
	if err := cmd.Start(); err != nil {
		tb.Fatalf("starting the emulator: %v", err)
	}
	tb.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		if tb.Failed() {
			tb.Logf("emulator output:\n%s", out.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", invokeAddr, time.Second)
		if err == nil {
			c.Close()
			return "http://" + invokeAddr
		}
		if time.Now().After(deadline) {
			tb.Fatalf("the emulator did not listen on %s: %v\n%s", invokeAddr, err, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// invocation is one invoke the fake Lambda API passed to the emulator.
type invocation struct {
	// Function is the function identifier of the invoke path, unescaped.
	Function string
	// Type is the X-Amz-Invocation-Type.
	Type    string
	Payload []byte
	// Answer is what the function answered.
	Answer []byte
}

// fakeLambda is a Lambda API endpoint on loopback. It checks the SigV4
// signature of every invoke (service lambda, testRegion, the test access
// key), then, by the function's name:
//
//	throttled  answers 429 TooManyRequestsException with Retry-After: 7
//	slow       answers nothing until the caller gives up
//	missing    answers 404 ResourceNotFoundException
//	otherwise  invokes the emulator's one function with the payload, one
//	           invoke at a time; marks an answer of the shape
//	           {"errorMessage", "errorType"} with X-Amz-Function-Error:
//	           Unhandled, as Lambda does; and answers an Event invoke with
//	           202 once the function has run.
type fakeLambda struct {
	emulator string
	client   *http.Client
	// invokeMu serializes invokes: the emulator cannot take two at once.
	invokeMu sync.Mutex
	mu       sync.Mutex
	log      []invocation
}

func newFakeLambda(tb testing.TB, emulator string) (*fakeLambda, string) {
	f := &fakeLambda{emulator: emulator, client: &http.Client{Timeout: 30 * time.Second}}
	srv := httptest.NewServer(f)
	tb.Cleanup(srv.Close)
	return f, srv.URL
}

func (f *fakeLambda) invocations() []invocation {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]invocation(nil), f.log...)
}

func (f *fakeLambda) last(tb testing.TB) invocation {
	tb.Helper()
	log := f.invocations()
	if len(log) == 0 {
		tb.Fatal("the fake Lambda API received no invoke")
	}
	return log[len(log)-1]
}

func awsError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("X-Amzn-ErrorType", code)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"Type":"User","message":%q}`, msg)
}

func (f *fakeLambda) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/2015-03-31/functions/")
	id, ok2 := strings.CutSuffix(rest, "/invocations")
	if r.Method != http.MethodPost || !ok || !ok2 {
		awsError(w, http.StatusNotFound, "UnknownOperationException", "unknown operation "+r.Method+" "+r.URL.Path)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	if err := verifySigV4(r, body, time.Now()); err != nil {
		awsError(w, http.StatusForbidden, "InvalidSignatureException", err.Error())
		return
	}
	name := id
	if parts := strings.Split(id, ":"); strings.HasPrefix(id, "arn:") && len(parts) >= 7 {
		name = parts[6]
	} else {
		name = parts[0]
	}
	switch name {
	case "throttled":
		w.Header().Set("Retry-After", "7")
		awsError(w, http.StatusTooManyRequests, "TooManyRequestsException", "Rate Exceeded.")
		return
	case "slow":
		select {
		case <-r.Context().Done():
		case <-time.After(20 * time.Second):
			awsError(w, http.StatusInternalServerError, "ServiceException", "the caller never gave up")
		}
		return
	case "missing":
		awsError(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+id)
		return
	}
	typ := r.Header.Get("X-Amz-Invocation-Type")
	switch typ {
	case "":
		typ = "RequestResponse"
	case "RequestResponse", "Event":
	default:
		awsError(w, http.StatusBadRequest, "InvalidParameterValueException", "invocation type "+typ)
		return
	}
	f.invokeMu.Lock()
	answer, err := f.invokeEmulator(r.Context(), body)
	f.invokeMu.Unlock()
	if err != nil {
		awsError(w, http.StatusInternalServerError, "ServiceException", err.Error())
		return
	}
	f.mu.Lock()
	f.log = append(f.log, invocation{Function: id, Type: typ, Payload: body, Answer: answer})
	f.mu.Unlock()
	if typ == "Event" {
		w.WriteHeader(http.StatusAccepted)
		return
	}
	var fnErr struct {
		Message *string `json:"errorMessage"`
		Type    *string `json:"errorType"`
	}
	if json.Unmarshal(answer, &fnErr) == nil && fnErr.Message != nil && fnErr.Type != nil {
		w.Header().Set("X-Amz-Function-Error", "Unhandled")
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amz-Executed-Version", "$LATEST")
	w.Write(answer)
}

func (f *fakeLambda) invokeEmulator(ctx context.Context, payload []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		f.emulator+"/2015-03-31/functions/function/invocations", bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	res, err := f.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	answer, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("the emulator answered %d: %s", res.StatusCode, answer)
	}
	return answer, nil
}

// verifySigV4 checks the request's AWS Signature Version 4: the
// credential scope, the date, and the signature itself, recomputed with
// the SDK's signer over the signed headers, the path and the body's
// SHA-256 as received.
func verifySigV4(r *http.Request, body []byte, now time.Time) error {
	rest, ok := strings.CutPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ")
	if !ok {
		return errors.New("missing AWS4-HMAC-SHA256 Authorization header")
	}
	fields := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		fields[k] = v
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || scope[0] != testAccessKey || scope[2] != testRegion || scope[3] != "lambda" || scope[4] != "aws4_request" {
		return fmt.Errorf("credential scope %q is not %s/DATE/%s/lambda/aws4_request", fields["Credential"], testAccessKey, testRegion)
	}
	t, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil || scope[1] != t.Format("20060102") {
		return fmt.Errorf("bad X-Amz-Date %q", r.Header.Get("X-Amz-Date"))
	}
	if d := now.Sub(t); d > 5*time.Minute || d < -5*time.Minute {
		return fmt.Errorf("signature time %v is too far from now", t)
	}
	signed := strings.Split(fields["SignedHeaders"], ";")
	u, err := url.Parse("http://" + r.Host + r.RequestURI)
	if err != nil {
		return err
	}
	check := &http.Request{Method: r.Method, URL: u, Host: r.Host, Header: http.Header{}}
	hasHost := false
	for _, h := range signed {
		switch h {
		case "host":
			hasHost = true
		case "content-length":
			check.ContentLength = int64(len(body))
		default:
			check.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	if !hasHost {
		return errors.New("the host header is not signed")
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey, SessionToken: r.Header.Get("X-Amz-Security-Token")}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, check, hex.EncodeToString(sum[:]), "lambda", testRegion, t); err != nil {
		return err
	}
	_, want, _ := strings.Cut(check.Header.Get("Authorization"), "Signature=")
	if !hmac.Equal([]byte(want), []byte(fields["Signature"])) {
		return errors.New("The request signature we calculated does not match the signature you provided.")
	}
	return nil
}

package lambda

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"unicode/utf8"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
	"golang.org/x/net/http/httpguts"

	"github.com/httproute/httproute"
)

// lambdaBackend invokes a Lambda function for each request.
type lambdaBackend struct {
	// name is the Backend's namespace/name, for messages.
	name   string
	client *awslambda.Client
	// functions maps the logical names of the seed shape to function
	// identifiers; empty for the current shape.
	functions map[string]string
	// only is the function invoked when no Parameter picks one: the
	// current shape's, or the seed shape's when it lists exactly one.
	only       string
	async      bool
	transform  bool
	maxPayload int64
	// endpoint is the Lambda API's base URL, "" for AWS's; target is its
	// host, for messages.
	endpoint string
	target   string
	logger   *slog.Logger
	// gate, when not nil, admits one invoke at a time (Options.Local).
	gate chan struct{}
	// unavailable, when set, is the body of the 503 that answers every
	// request instead of an invoke.
	unavailable string
}

var _ httproute.Backend = (*lambdaBackend)(nil)

// RoundTrip invokes the function with the request and returns its answer,
// mapped as the package documentation says. It returns an error only when
// the request's context ends (the Router answers 504 on a deadline) or the
// invoke fails without an answer from the Lambda API (502).
func (lb *lambdaBackend) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		defer r.Body.Close()
	}
	if lb.unavailable != "" {
		return textResponse(r, http.StatusServiceUnavailable, lb.unavailable), nil
	}
	fn, msg := lb.function(r.Context())
	if msg != "" {
		return textResponse(r, http.StatusInternalServerError, msg), nil
	}
	body, err := readBody(r, lb.maxPayload)
	if err != nil {
		if errors.Is(err, errTooLarge) {
			return textResponse(r, http.StatusRequestEntityTooLarge,
				"lambda: the request body is larger than the "+strconv.FormatInt(lb.maxPayload, 10)+"-byte limit of an invoke\n"), nil
		}
		if ctxErr := r.Context().Err(); ctxErr != nil {
			return nil, fmt.Errorf("lambda: %s: %w", lb.name, ctxErr)
		}
		return nil, fmt.Errorf("%w: lambda: reading the request body: %w", httproute.ErrBackend, err)
	}
	payload := body
	if lb.transform {
		payload = encodeEvent(r, body)
	}
	in := &awslambda.InvokeInput{
		FunctionName:   &fn,
		InvocationType: types.InvocationTypeRequestResponse,
		Payload:        payload,
	}
	if lb.async {
		in.InvocationType = types.InvocationTypeEvent
	}
	if lb.gate != nil {
		select {
		case lb.gate <- struct{}{}:
			defer func() { <-lb.gate }()
		case <-r.Context().Done():
			return nil, fmt.Errorf("lambda: %s: waiting for the local emulator: %w", lb.name, r.Context().Err())
		}
	}
	out, err := lb.client.Invoke(r.Context(), in)
	if err != nil {
		return lb.invokeError(r, fn, err)
	}
	switch {
	case lb.async:
		return newResponse(r, http.StatusAccepted, http.Header{}, nil), nil
	case out.FunctionError != nil:
		lb.logger.Warn("lambda function error", "backend", lb.name, "function", fn,
			"functionError", *out.FunctionError, "payload", string(out.Payload))
		res := textResponse(r, http.StatusBadGateway, "lambda: the function failed ("+*out.FunctionError+")\n")
		res.Header.Set("X-Amz-Function-Error", *out.FunctionError)
		return res, nil
	case !lb.transform:
		h := http.Header{"Content-Type": {"application/json"}}
		return newResponse(r, http.StatusOK, h, out.Payload), nil
	}
	res, err := decodeResponse(r, out.Payload)
	if err != nil {
		lb.logger.Warn("lambda function answer malformed", "backend", lb.name, "function", fn, "error", err)
		return textResponse(r, http.StatusBadGateway, "lambda: the function's answer is not a valid response: "+err.Error()+"\n"), nil
	}
	return res, nil
}

// function returns the identifier of the function to invoke, or the body
// of a 500 when the route does not say which.
func (lb *lambdaBackend) function(ctx context.Context) (fn, msg string) {
	if name := logicalName(ctx); name != "" && len(lb.functions) > 0 {
		if fn, ok := lb.functions[name]; ok {
			return fn, ""
		}
		return "", "lambda: Backend " + lb.name + " has no function with logicalName " + strconv.Quote(name) + "\n"
	}
	if lb.only != "" {
		return lb.only, ""
	}
	return "", "lambda: Backend " + lb.name + " lists " + strconv.Itoa(len(lb.functions)) +
		" functions: add an ExtensionRef filter of kind Parameter to the backendRef to pick one by logicalName\n"
}

// invokeError maps a failed invoke to a response or an error.
func (lb *lambdaBackend) invokeError(r *http.Request, fn string, err error) (*http.Response, error) {
	if ctxErr := r.Context().Err(); ctxErr != nil {
		return nil, fmt.Errorf("lambda: invoke of %s: %w", fn, ctxErr)
	}
	var throttled *types.TooManyRequestsException
	if errors.As(err, &throttled) {
		res := textResponse(r, http.StatusTooManyRequests, "lambda: the function is throttled (TooManyRequestsException)\n")
		if s := throttled.RetryAfterSeconds; s != nil && *s != "" {
			res.Header.Set("Retry-After", *s)
		}
		return res, nil
	}
	var tooLarge *types.RequestTooLargeException
	if errors.As(err, &tooLarge) {
		return textResponse(r, http.StatusRequestEntityTooLarge, "lambda: the invoke payload is too large (RequestTooLargeException)\n"), nil
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() != 0 {
		status := re.HTTPStatusCode()
		code := ""
		var apiErr smithy.APIError
		if errors.As(err, &apiErr) {
			code = apiErr.ErrorCode()
		}
		lb.logger.Warn("lambda invoke refused", "backend", lb.name, "function", fn, "status", status, "error", err)
		if code == "" {
			code = http.StatusText(status)
		}
		if status == http.StatusTooManyRequests {
			res := textResponse(r, http.StatusTooManyRequests, "lambda: the function is throttled ("+code+")\n")
			if re.Response != nil && re.Response.Header.Get("Retry-After") != "" {
				res.Header.Set("Retry-After", re.Response.Header.Get("Retry-After"))
			}
			return res, nil
		}
		return textResponse(r, http.StatusBadGateway,
			"lambda: the Lambda API refused the invoke: "+strconv.Itoa(status)+" "+code+"\n"), nil
	}
	var op *net.OpError
	if errors.Is(err, syscall.ECONNREFUSED) || (errors.As(err, &op) && op.Op == "dial") {
		lb.logger.Warn("lambda endpoint unreachable", "backend", lb.name, "endpoint", lb.target, "error", err)
		return textResponse(r, http.StatusServiceUnavailable, "lambda: cannot connect to the Lambda endpoint "+lb.target+"\n"), nil
	}
	return nil, fmt.Errorf("%w: lambda: invoke of %s: %w", httproute.ErrBackend, fn, err)
}

var errTooLarge = errors.New("request body too large")

// readBody reads the whole body, failing with errTooLarge past limit.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.ContentLength > limit {
		return nil, errTooLarge
	}
	// Grow with what arrives: a declared Content-Length only sizes the
	// first allocation up to 64 KiB, so a client cannot reserve megabytes
	// by declaring them.
	size := 512
	if r.ContentLength > 0 {
		size = int(min(r.ContentLength+1, 64<<10))
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	n, err := buf.ReadFrom(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if n > limit {
		return nil, errTooLarge
	}
	return buf.Bytes(), nil
}

// Event is the JSON payload a function receives in the Envoy transform
// mode: the request as Envoy's aws_lambda filter encodes it.
type Event struct {
	// RawPath is the request's path with its query string, as sent
	// upstream (after the route's filters).
	RawPath string `json:"raw_path"`
	Method  string `json:"method"`
	// Headers are the request headers, names in lower case, the values of
	// a repeated header joined with ",". The Host header is not among them,
	// as in Envoy, where it is the :authority pseudo-header; nor is the
	// empty User-Agent that the Router's proxy gives a request without one.
	Headers map[string]string `json:"headers"`
	// QueryStringParameters are the query's parameters as written, not
	// percent-decoded; of a repeated name, the first value.
	QueryStringParameters map[string]string `json:"query_string_parameters"`
	// Body is the request body: as is when the Content-Type is text/*,
	// application/json, application/xml or application/javascript (any
	// parameters ignored) and the body is valid UTF-8; otherwise, and
	// always without a Content-Type, base64-encoded.
	Body            string `json:"body"`
	IsBase64Encoded bool   `json:"is_base64_encoded"`
}

// Response is the answer a function gives in the Envoy transform mode.
// Decoding also accepts the snake_case names status_code and
// is_base64_encoded, as Envoy does.
type Response struct {
	// StatusCode is the response status, 200 when zero.
	StatusCode int `json:"statusCode,omitempty"`
	// Headers are set on the response (replacing, not adding). The
	// Content-Type is application/json unless they set one.
	Headers map[string]string `json:"headers,omitempty"`
	// Cookies are sent as one Set-Cookie header each.
	Cookies         []string `json:"cookies,omitempty"`
	Body            string   `json:"body,omitempty"`
	IsBase64Encoded bool     `json:"isBase64Encoded,omitempty"`
}

// encodeEvent encodes r and its body as Envoy's aws_lambda filter does.
func encodeEvent(r *http.Request, body []byte) []byte {
	ev := Event{
		RawPath:               r.URL.RequestURI(),
		Method:                r.Method,
		Headers:               make(map[string]string, len(r.Header)+1),
		QueryStringParameters: map[string]string{},
	}
	for k, vs := range r.Header {
		if k == "User-Agent" && len(vs) == 1 && vs[0] == "" {
			continue // the Router's proxy marks a request without one so
		}
		ev.Headers[strings.ToLower(k)] = strings.Join(vs, ",")
	}
	if r.ContentLength > 0 {
		ev.Headers["content-length"] = strconv.FormatInt(r.ContentLength, 10)
	}
	for q := r.URL.RawQuery; q != ""; {
		var kv string
		kv, q, _ = strings.Cut(q, "&")
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		if _, seen := ev.QueryStringParameters[k]; !seen {
			ev.QueryStringParameters[k] = v
		}
	}
	if len(body) > 0 {
		if isTextual(r.Header.Get("Content-Type")) && utf8.Valid(body) {
			ev.Body = string(body)
		} else {
			ev.Body = base64.StdEncoding.EncodeToString(body)
			ev.IsBase64Encoded = true
		}
	}
	var buf bytes.Buffer
	buf.Grow(256 + len(ev.Body))
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	// An Event of strings and maps of strings always encodes.
	_ = enc.Encode(&ev)
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// isTextual reports whether a body of media type ct goes into the event
// as is.
func isTextual(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	switch mt {
	case "application/json", "application/xml", "application/javascript":
		return true
	}
	return strings.HasPrefix(mt, "text/")
}

// wireResponse is Response with both spellings Envoy accepts.
type wireResponse struct {
	StatusCode      json.RawMessage   `json:"statusCode"`
	StatusCodeSnake json.RawMessage   `json:"status_code"`
	Headers         map[string]string `json:"headers"`
	Cookies         []string          `json:"cookies"`
	Body            *string           `json:"body"`
	IsBase64        *bool             `json:"isBase64Encoded"`
	IsBase64Snake   *bool             `json:"is_base64_encoded"`
}

// decodeResponse turns a function's answer in the Envoy transform mode
// into the HTTP response.
func decodeResponse(r *http.Request, payload []byte) (*http.Response, error) {
	if t := bytes.TrimLeft(payload, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return nil, errors.New("the payload is not a JSON object")
	}
	var w wireResponse
	if err := json.Unmarshal(payload, &w); err != nil {
		return nil, err
	}
	status := http.StatusOK
	raw := w.StatusCode
	if len(raw) == 0 || string(raw) == "null" {
		raw = w.StatusCodeSnake
	}
	if len(raw) > 0 && string(raw) != "null" {
		s := string(raw)
		if unq, err := strconv.Unquote(s); err == nil {
			s = unq
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, fmt.Errorf("statusCode %s is not an integer", raw)
		}
		if n != 0 {
			if n < 200 || n > 599 {
				return nil, fmt.Errorf("statusCode %d is not between 200 and 599", n)
			}
			status = n
		}
	}
	h := make(http.Header, len(w.Headers)+2)
	for k, v := range w.Headers {
		if !httpguts.ValidHeaderFieldName(k) || !httpguts.ValidHeaderFieldValue(v) || hopByHop(k) {
			continue
		}
		h.Set(k, v)
	}
	for _, c := range w.Cookies {
		if httpguts.ValidHeaderFieldValue(c) {
			h.Add("Set-Cookie", c)
		}
	}
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json")
	}
	var body []byte
	if w.Body != nil && *w.Body != "" {
		if (w.IsBase64 != nil && *w.IsBase64) || (w.IsBase64Snake != nil && *w.IsBase64Snake) {
			b, err := base64.StdEncoding.DecodeString(*w.Body)
			if err != nil {
				if b, err = base64.RawStdEncoding.DecodeString(*w.Body); err != nil {
					return nil, errors.New("isBase64Encoded is true but the body is not base64")
				}
			}
			body = b
		} else {
			body = []byte(*w.Body)
		}
	}
	return newResponse(r, status, h, body), nil
}

// hopByHop reports whether a function's header is one the response
// framing owns.
func hopByHop(name string) bool {
	switch http.CanonicalHeaderKey(name) {
	case "Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Te", "Trailer", "Upgrade", "Content-Length":
		return true
	}
	return false
}

func newResponse(r *http.Request, code int, h http.Header, body []byte) *http.Response {
	h.Set("Content-Length", strconv.Itoa(len(body)))
	return &http.Response{
		Status:        strconv.Itoa(code) + " " + http.StatusText(code),
		StatusCode:    code,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       r,
	}
}

// textResponse is a response with a plain-text body written by this
// package, marked as in the Router's own error answers.
func textResponse(r *http.Request, code int, msg string) *http.Response {
	h := http.Header{
		"Content-Type":           {"text/plain; charset=utf-8"},
		"X-Content-Type-Options": {"nosniff"},
	}
	return newResponse(r, code, h, []byte(msg))
}

package lambda

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestEncodeEvent(t *testing.T) {
	for _, tc := range []struct {
		name   string
		method string
		target string
		header http.Header
		body   string
		want   Event
		reason string
	}{
		{
			name: "no body", method: "GET", target: "/p",
			want: Event{RawPath: "/p", Method: "GET", Headers: map[string]string{}, QueryStringParameters: map[string]string{}},
		},
		{
			name: "query first value wins, not decoded", method: "GET", target: "/p?a=1&a=2&b=x%2By&&c",
			want: Event{RawPath: "/p?a=1&a=2&b=x%2By&&c", Method: "GET", Headers: map[string]string{},
				QueryStringParameters: map[string]string{"a": "1", "b": "x%2By", "c": ""}},
			reason: "Envoy keeps the first value of a repeated name and does not percent-decode",
		},
		{
			name: "escaped path kept", method: "GET", target: "/a%2Fb/c%20d",
			want: Event{RawPath: "/a%2Fb/c%20d", Method: "GET", Headers: map[string]string{}, QueryStringParameters: map[string]string{}},
		},
		{
			name: "headers lower case and joined", method: "GET", target: "/",
			header: http.Header{"X-A": {"1", "2"}, "Accept": {"text/html"}, "User-Agent": {""}},
			want: Event{RawPath: "/", Method: "GET", Headers: map[string]string{"x-a": "1,2", "accept": "text/html"},
				QueryStringParameters: map[string]string{}},
			reason: "the empty User-Agent is the proxy's marker, not the client's",
		},
		{
			name: "json body as is", method: "POST", target: "/",
			header: http.Header{"Content-Type": {"Application/JSON; charset=utf-8"}}, body: `{"a":"<b>"}`,
			want: Event{RawPath: "/", Method: "POST", Headers: map[string]string{"content-type": "Application/JSON; charset=utf-8", "content-length": "11"},
				QueryStringParameters: map[string]string{}, Body: `{"a":"<b>"}`},
			reason: "the media type is compared without parameters and case",
		},
		{
			name: "body without content type is base64", method: "POST", target: "/", body: "hi",
			want: Event{RawPath: "/", Method: "POST", Headers: map[string]string{"content-length": "2"},
				QueryStringParameters: map[string]string{}, Body: "aGk=", IsBase64Encoded: true},
		},
		{
			name: "invalid utf-8 text is base64", method: "POST", target: "/",
			header: http.Header{"Content-Type": {"text/plain"}}, body: "\xff\xfe",
			want: Event{RawPath: "/", Method: "POST", Headers: map[string]string{"content-type": "text/plain", "content-length": "2"},
				QueryStringParameters: map[string]string{}, Body: "//4=", IsBase64Encoded: true},
			reason: "JSON strings cannot carry invalid UTF-8 unchanged",
		},
		{
			name: "xml and javascript as is", method: "POST", target: "/",
			header: http.Header{"Content-Type": {"application/xml"}}, body: "<a/>",
			want: Event{RawPath: "/", Method: "POST", Headers: map[string]string{"content-type": "application/xml", "content-length": "4"},
				QueryStringParameters: map[string]string{}, Body: "<a/>"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			r := httptest.NewRequest(tc.method, tc.target, body)
			for k, v := range tc.header {
				r.Header[k] = v
			}
			raw := encodeEvent(r, []byte(tc.body))
			var got Event
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Fatalf("%s: %v", raw, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("event (-want +got):\n%s\n%s", diff, tc.reason)
			}
		})
	}
}

// TestEncodeEventFieldOrder pins the JSON as Envoy writes it: snake_case
// names in the order of its schema, every field present.
func TestEncodeEventFieldOrder(t *testing.T) {
	got := string(encodeEvent(httptest.NewRequest("GET", "/x?a=b", nil), nil))
	want := `{"raw_path":"/x?a=b","method":"GET","headers":{},"query_string_parameters":{"a":"b"},"body":"","is_base64_encoded":false}`
	if got != want {
		t.Errorf("event\n got %s\nwant %s", got, want)
	}
}

func TestDecodeResponse(t *testing.T) {
	type want struct {
		status int
		header http.Header
		body   string
		err    string
	}
	for _, tc := range []struct {
		name, payload string
		want          want
		reason        string
	}{
		{
			name: "empty object", payload: `{}`,
			want: want{status: 200, header: http.Header{"Content-Type": {"application/json"}}},
		},
		{
			name: "full", payload: `{"statusCode":302,"headers":{"location":"/x","content-type":"text/plain"},"cookies":["a=1","b=2; Secure"],"body":"moved"}`,
			want: want{status: 302, header: http.Header{"Location": {"/x"}, "Content-Type": {"text/plain"}, "Set-Cookie": {"a=1", "b=2; Secure"}}, body: "moved"},
		},
		{
			name: "snake case", payload: `{"status_code":"404","body":"bm8=","is_base64_encoded":true}`,
			want:   want{status: 404, header: http.Header{"Content-Type": {"application/json"}}, body: "no"},
			reason: "Envoy decodes the answer with protobuf's JSON rules, which accept both spellings and quoted integers",
		},
		{
			name: "unpadded base64", payload: `{"body":"bm8","isBase64Encoded":true}`,
			want: want{status: 200, header: http.Header{"Content-Type": {"application/json"}}, body: "no"},
		},
		{
			name: "framing headers dropped", payload: `{"headers":{"content-length":"99","transfer-encoding":"chunked","connection":"close",":status":"500","bad name":"x","x-ok":"1"},"body":"abc"}`,
			want:   want{status: 200, header: http.Header{"Content-Type": {"application/json"}, "X-Ok": {"1"}}, body: "abc"},
			reason: "the response's framing is the Router's; invalid names and pseudo-headers cannot be sent",
		},
		{
			name: "unknown fields ignored", payload: `{"multiValueHeaders":{"a":["1"]},"body":"x"}`,
			want: want{status: 200, header: http.Header{"Content-Type": {"application/json"}}, body: "x"},
		},
		{name: "array", payload: `[1]`, want: want{err: "the payload is not a JSON object"}},
		{name: "null", payload: `null`, want: want{err: "the payload is not a JSON object"}},
		{name: "empty", payload: ``, want: want{err: "the payload is not a JSON object"}},
		{name: "truncated", payload: `{"body":`, want: want{err: "unexpected end of JSON input"}},
		{name: "status text", payload: `{"statusCode":"ok"}`, want: want{err: `statusCode "ok" is not an integer`}},
		{name: "status too low", payload: `{"statusCode":101}`, want: want{err: "statusCode 101 is not between 200 and 599"},
			reason: "an informational status cannot end a response"},
		{name: "status too high", payload: `{"statusCode":600}`, want: want{err: "statusCode 600 is not between 200 and 599"}},
		{name: "body not a string", payload: `{"body":{"a":1}}`, want: want{err: "json: cannot unmarshal object into Go struct field wireResponse.body of type string"}},
		{name: "bad base64", payload: `{"body":"!!","isBase64Encoded":true}`, want: want{err: "isBase64Encoded is true but the body is not base64"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := decodeResponse(httptest.NewRequest("GET", "/", nil), []byte(tc.payload))
			var got want
			if err != nil {
				got.err = err.Error()
			} else {
				b, _ := io.ReadAll(res.Body)
				got = want{status: res.StatusCode, header: res.Header, body: string(b)}
				if res.ContentLength != int64(len(b)) || res.Header.Get("Content-Length") != strconv.Itoa(len(b)) {
					t.Errorf("ContentLength %d, header %q, body %d bytes", res.ContentLength, res.Header.Get("Content-Length"), len(b))
				}
				res.Header.Del("Content-Length")
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(want{})); diff != "" {
				t.Errorf("(-want +got):\n%s\n%s", diff, tc.reason)
			}
		})
	}
}

func TestFunctionID(t *testing.T) {
	for _, tc := range []struct{ region, account, name, qualifier, want string }{
		{"us-east-1", "", "echo", "", "echo:$LATEST"},
		{"us-east-1", "", "echo", "prod", "echo:prod"},
		{"eu-west-1", "123456789012", "echo", "", "arn:aws:lambda:eu-west-1:123456789012:function:echo:$LATEST"},
		{"cn-north-1", "123456789012", "echo", "2", "arn:aws-cn:lambda:cn-north-1:123456789012:function:echo:2"},
		{"us-gov-west-1", "123456789012", "echo", "2", "arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:echo:2"},
	} {
		if got := functionID(tc.region, tc.account, tc.name, tc.qualifier); got != tc.want {
			t.Errorf("functionID(%q, %q, %q, %q) = %q, want %q", tc.region, tc.account, tc.name, tc.qualifier, got, tc.want)
		}
	}
}

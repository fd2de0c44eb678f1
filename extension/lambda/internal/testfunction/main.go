// Command testfunction is the AWS Lambda function the package's tests run
// in the Runtime Interface Emulator. It is written with aws-lambda-go, as a
// user's function would be, and knows nothing of this package: it decodes
// Envoy's event with types of its own.
//
// For an Envoy event it answers by path suffix:
//
//	/fail       fails (a function error)
//	/malformed  answers a JSON array, which is no response
//	/badbase64  claims a base64 body that is not base64
//	/binary     decodes the base64 body and answers its bytes inverted, base64
//	/snake      answers with snake_case field names and status 201
//	otherwise   echoes the event it received as the JSON body, with status
//	            from the "status" query parameter (200 by default), a header
//	            and two cookies
//
// Any other payload (the None transform mode) is echoed as {"raw": payload},
// or fails when it is {"fail": true}.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
)

type event struct {
	RawPath         *string           `json:"raw_path"`
	Method          string            `json:"method"`
	Headers         map[string]string `json:"headers"`
	Query           map[string]string `json:"query_string_parameters"`
	Body            string            `json:"body"`
	IsBase64Encoded bool              `json:"is_base64_encoded"`
}

type response struct {
	StatusCode      int               `json:"statusCode,omitempty"`
	Headers         map[string]string `json:"headers,omitempty"`
	Cookies         []string          `json:"cookies,omitempty"`
	Body            string            `json:"body"`
	IsBase64Encoded bool              `json:"isBase64Encoded,omitempty"`
}

func handle(_ context.Context, payload json.RawMessage) (json.RawMessage, error) {
	var ev event
	if err := json.Unmarshal(payload, &ev); err != nil || ev.RawPath == nil {
		var p struct {
			Fail bool `json:"fail"`
		}
		if json.Unmarshal(payload, &p) == nil && p.Fail {
			return nil, errors.New("failing as asked")
		}
		return json.Marshal(map[string]json.RawMessage{"raw": payload})
	}
	path, _, _ := strings.Cut(*ev.RawPath, "?")
	switch {
	case strings.HasSuffix(path, "/fail"):
		return nil, errors.New("failing as asked")
	case strings.HasSuffix(path, "/malformed"):
		return json.RawMessage(`["not","a","response"]`), nil
	case strings.HasSuffix(path, "/badbase64"):
		return json.RawMessage(`{"statusCode":200,"body":"%%%","isBase64Encoded":true}`), nil
	case strings.HasSuffix(path, "/binary"):
		in, err := base64.StdEncoding.DecodeString(ev.Body)
		if err != nil || !ev.IsBase64Encoded {
			return nil, errors.New("the binary body did not arrive base64-encoded")
		}
		for i := range in {
			in[i] = ^in[i]
		}
		return json.Marshal(response{
			Headers:         map[string]string{"content-type": "application/octet-stream"},
			Body:            base64.StdEncoding.EncodeToString(in),
			IsBase64Encoded: true,
		})
	case strings.HasSuffix(path, "/snake"):
		return json.RawMessage(`{"status_code":201,"body":"c25ha2U=","is_base64_encoded":true}`), nil
	}
	status := 200
	if s, err := url.QueryUnescape(ev.Query["status"]); err == nil && s != "" {
		status, _ = strconv.Atoi(s)
	}
	return json.Marshal(response{
		StatusCode: status,
		Headers:    map[string]string{"content-type": "application/json", "x-function": "testfunction"},
		Cookies:    []string{"a=1; HttpOnly", "b=2"},
		Body:       string(payload),
	})
}

func main() { lambda.Start(handle) }

package httproute

import (
	"net/http"
	"strconv"
)

// gRPC status codes of the Router's own answers to gRPC requests
// (google.golang.org/grpc/codes; the values are the gRPC protocol's).
const (
	grpcUnknown          = 2
	grpcDeadlineExceeded = 4
	grpcPermissionDenied = 7
	grpcUnimplemented    = 12
	grpcInternal         = 13
	grpcUnavailable      = 14
	grpcUnauthenticated  = 16
)

// grpcCode returns the gRPC status that answers a gRPC request in place
// of the HTTP status code: gRPC's HTTP-to-gRPC mapping (404
// UNIMPLEMENTED, 429 and 502 to 504 UNAVAILABLE, ...), except that a
// rule the Router cannot serve (500: an invalid backendRef, no
// backendRefs) is UNAVAILABLE, as GRPCRouteRule.BackendRefs requires, and
// a timeout (504) is DEADLINE_EXCEEDED.
func grpcCode(code int) int {
	switch code {
	case http.StatusBadRequest:
		return grpcInternal
	case http.StatusUnauthorized:
		return grpcUnauthenticated
	case http.StatusForbidden:
		return grpcPermissionDenied
	case http.StatusNotFound:
		return grpcUnimplemented
	case http.StatusGatewayTimeout:
		return grpcDeadlineExceeded
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable:
		return grpcUnavailable
	default:
		return grpcUnknown
	}
}

// grpcWriter marks the ResponseWriter of a gRPC request: writeStatus,
// finding it under the filters' writers, answers with a gRPC status
// instead of a plain-text page. It changes nothing else.
type grpcWriter struct {
	http.ResponseWriter
}

func (w *grpcWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush is the server's: gRPC handlers served in process require an
// http.Flusher.
func (w *grpcWriter) Flush() { _ = http.NewResponseController(w.ResponseWriter).Flush() }

// answersGRPC reports whether w writes the answer to a gRPC request: a
// grpcWriter, possibly under writers that unwrap to it.
func answersGRPC(w http.ResponseWriter) bool {
	for {
		switch x := w.(type) {
		case *grpcWriter:
			return true
		case interface{ Unwrap() http.ResponseWriter }:
			w = x.Unwrap()
		default:
			return false
		}
	}
}

// writeGRPCStatus answers a gRPC request with the gRPC status for the
// HTTP status code, as a Trailers-Only response: HTTP 200 whose headers
// carry grpc-status and grpc-message (the status text, which needs no
// percent-encoding), and no body.
func writeGRPCStatus(w http.ResponseWriter, code int) {
	h := w.Header()
	h.Del("Content-Length")
	h.Set("Content-Type", "application/grpc")
	h.Set("Grpc-Status", strconv.Itoa(grpcCode(code)))
	h.Set("Grpc-Message", http.StatusText(code))
	w.WriteHeader(http.StatusOK)
}

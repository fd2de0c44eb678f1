package httproute

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestWriteGRPCStatus checks the gRPC status of each of the Router's
// error classes, written under a filter's writer that unwraps to the
// grpcWriter.
func TestWriteGRPCStatus(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{ErrNoRoute, "12 Not Found"},
		{ErrInvalidRule, "14 Internal Server Error"},
		{ErrNotFound, "14 Internal Server Error"},
		{ErrBackend, "14 Bad Gateway"},
		{ErrNoEndpoint, "14 Service Unavailable"},
		{ErrTimeout, "4 Gateway Timeout"},
		{ErrMisdirected, "2 Misdirected Request"},
	}
	for _, tc := range tests {
		t.Run(tc.err.Error(), func(t *testing.T) {
			rec := httptest.NewRecorder()
			writeError(&headerWriter{ResponseWriter: &grpcWriter{ResponseWriter: rec}, before: func(http.Header) {}}, tc.err)
			got := fmt.Sprintf("%d %s %s %s %q", rec.Code, rec.Header().Get("Content-Type"),
				rec.Header().Get("Grpc-Status"), rec.Header().Get("Grpc-Message"), rec.Body.String())
			want := fmt.Sprintf("%d application/grpc %s %q", http.StatusOK, tc.want, "")
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
		})
	}
}

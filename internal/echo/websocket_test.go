package echo

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// dialWebSocket opens a WebSocket to srv's /ws with the given extra
// handshake headers and returns the connection and the handshake answer.
func dialWebSocket(t *testing.T, srv *httptest.Server, headers string) (net.Conn, *bufio.Reader, *http.Response) {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	_, err = io.WriteString(conn, "GET /ws HTTP/1.1\r\nHost: example.com\r\n"+
		"Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"+headers+"\r\n")
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	return conn, br, res
}

// clientFrame encodes a masked frame, as clients send them.
func clientFrame(opcode byte, payload []byte) []byte {
	b := []byte{0x80 | opcode}
	switch n := len(payload); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n <= 0xFFFF:
		b = append(b, 0x80|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	mask := [4]byte{0x12, 0x34, 0x56, 0x78}
	b = append(b, mask[:]...)
	for i, c := range payload {
		b = append(b, c^mask[i%4])
	}
	return b
}

func TestWebSocketEcho(t *testing.T) {
	srv := httptest.NewServer(New(testInfo))
	defer srv.Close()
	conn, br, res := dialWebSocket(t, srv, "Sec-WebSocket-Version: 13\r\nOrigin: http://example.com\r\n")
	if res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake status = %d, want 101", res.StatusCode)
	}
	// The accept key of RFC 6455's example.
	if got := res.Header.Get("Sec-WebSocket-Accept"); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Errorf("Sec-WebSocket-Accept = %q", got)
	}

	long := []byte(strings.Repeat("x", 300))
	tests := []struct {
		name       string
		opcode     byte
		payload    []byte
		wantOpcode byte
	}{
		{"text", opText, []byte("Websocket Support!"), opText},
		{"binary", opBinary, []byte{1, 2, 3, 4, 5, 6, 7}, opBinary},
		{"16-bit length", opBinary, long, opBinary},
		{"ping", opPing, []byte("p"), opPong},
		{"close", opClose, []byte{0x03, 0xE8}, opClose},
	}
	for _, tc := range tests {
		if _, err := conn.Write(clientFrame(tc.opcode, tc.payload)); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var h [2]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if h[0] != 0x80|tc.wantOpcode {
			t.Errorf("%s: first byte %#x, want %#x", tc.name, h[0], 0x80|tc.wantOpcode)
		}
		if h[1]&0x80 != 0 {
			t.Errorf("%s: server frame is masked", tc.name)
		}
		n := int(h[1] & 0x7F)
		if n == 126 {
			var ext [2]byte
			_, _ = io.ReadFull(br, ext[:])
			n = int(binary.BigEndian.Uint16(ext[:]))
		}
		got := make([]byte, n)
		if _, err := io.ReadFull(br, got); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if diff := cmp.Diff(tc.payload, got); diff != "" {
			t.Errorf("%s: payload (-want +got):\n%s", tc.name, diff)
		}
	}
	// After the close, the server ends the connection.
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("after close: read error %v, want EOF", err)
	}
}

func TestWebSocketUnmaskedFrame(t *testing.T) {
	srv := httptest.NewServer(New(testInfo))
	defer srv.Close()
	conn, br, _ := dialWebSocket(t, srv, "Sec-WebSocket-Version: 13\r\nOrigin: http://example.com\r\n")
	if _, err := conn.Write([]byte{0x81, 0x01, 'x'}); err != nil {
		t.Fatal(err)
	}
	// A protocol error closes with status 1002.
	want := []byte{0x80 | opClose, 2, 0x03, 0xEA}
	got := make([]byte, len(want))
	if _, err := io.ReadFull(br, got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("close frame (-want +got):\n%s", diff)
	}
}

func TestWebSocketHandshakeErrors(t *testing.T) {
	srv := httptest.NewServer(New(testInfo))
	defer srv.Close()
	tests := []struct {
		name    string
		headers string
		want    int
	}{
		{"no origin", "Sec-WebSocket-Version: 13\r\n", http.StatusForbidden},
		{"old version", "Sec-WebSocket-Version: 8\r\nOrigin: http://example.com\r\n", http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, res := dialWebSocket(t, srv, tc.headers)
			if res.StatusCode != tc.want {
				t.Errorf("status = %d, want %d", res.StatusCode, tc.want)
			}
		})
	}
	res, _ := get(t, srv.Client(), srv.URL+"/ws", nil)
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("plain GET /ws: status = %d, want 400", res.StatusCode)
	}
}

package echo

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"strings"
)

// WebSocket opcodes (RFC 6455, section 5.2).
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

// maxFrame bounds the payload of one frame the echo accepts.
const maxFrame = 1 << 20

// websocketGUID is the key suffix of the opening handshake (RFC 6455,
// section 1.3).
const websocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// websocket accepts a WebSocket connection and sends every data frame back
// as it came, until the client closes. Like echo-basic's, the handshake
// requires an Origin header.
func (s *server) websocket(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || !headerHasToken(r.Header, "Connection", "upgrade") ||
		!strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		http.Error(w, "not a WebSocket handshake", http.StatusBadRequest)
		return
	}
	if r.Header.Get("Sec-WebSocket-Version") != "13" {
		w.Header().Set("Sec-WebSocket-Version", "13")
		http.Error(w, "unsupported WebSocket version", http.StatusBadRequest)
		return
	}
	key := r.Header.Get("Sec-WebSocket-Key")
	if key == "" {
		http.Error(w, "missing Sec-WebSocket-Key", http.StatusBadRequest)
		return
	}
	if r.Header.Get("Origin") == "" {
		http.Error(w, "missing Origin", http.StatusForbidden)
		return
	}
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "cannot take over the connection: "+err.Error(), http.StatusInternalServerError)
		return
	}
	defer conn.Close()
	s.logf("established websocket connection %s\n", r.RemoteAddr)
	_, _ = rw.WriteString("HTTP/1.1 101 Switching Protocols\r\n" +
		"Upgrade: websocket\r\n" +
		"Connection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + acceptKey(key) + "\r\n\r\n")
	if rw.Flush() != nil {
		return
	}
	_ = echoFrames(rw.Reader, rw.Writer)
}

// acceptKey returns the Sec-WebSocket-Accept value for a client key.
func acceptKey(key string) string {
	sum := sha1.Sum([]byte(key + websocketGUID))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// headerHasToken reports whether the comma-separated header name contains
// token, ignoring case.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for part := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}

// frame is one WebSocket frame, unmasked.
type frame struct {
	fin     bool
	opcode  byte
	payload []byte
}

// errProtocol is a violation of RFC 6455 by the client.
var errProtocol = errors.New("websocket: protocol error")

// echoFrames reads frames from r and writes data frames back to w as they
// came, answers pings, and answers a close with a close. It returns when
// the connection closes or the client breaks the protocol (after sending
// a close frame with status 1002, or 1009 for a frame too large).
func echoFrames(r *bufio.Reader, w *bufio.Writer) error {
	for {
		f, err := readFrame(r)
		if err != nil {
			if errors.Is(err, errProtocol) {
				code := uint16(1002)
				if errors.Is(err, errTooLarge) {
					code = 1009
				}
				_ = writeFrame(w, frame{fin: true, opcode: opClose, payload: binary.BigEndian.AppendUint16(nil, code)})
			}
			return err
		}
		switch f.opcode {
		case opContinuation, opText, opBinary:
		case opPing:
			f = frame{fin: true, opcode: opPong, payload: f.payload}
		case opPong:
			continue
		case opClose:
			return writeFrame(w, frame{fin: true, opcode: opClose, payload: f.payload})
		default:
			_ = writeFrame(w, frame{fin: true, opcode: opClose, payload: binary.BigEndian.AppendUint16(nil, 1002)})
			return errProtocol
		}
		if err := writeFrame(w, f); err != nil {
			return err
		}
	}
}

var errTooLarge = errors.Join(errProtocol, errors.New("frame too large"))

// readFrame reads one frame sent by a client, whose frames must be masked.
func readFrame(r *bufio.Reader) (frame, error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return frame{}, err
	}
	f := frame{fin: h[0]&0x80 != 0, opcode: h[0] & 0x0F}
	if h[0]&0x70 != 0 || h[1]&0x80 == 0 {
		return frame{}, errProtocol // reserved bits, or an unmasked client frame
	}
	n := uint64(h[1] & 0x7F)
	switch n {
	case 126:
		var ext [2]byte
		if _, err := io.ReadFull(r, ext[:]); err != nil {
			return frame{}, err
		}
		n = uint64(binary.BigEndian.Uint16(ext[:]))
	case 127:
		var ext [8]byte
		if _, err := io.ReadFull(r, ext[:]); err != nil {
			return frame{}, err
		}
		n = binary.BigEndian.Uint64(ext[:])
	}
	if n > maxFrame {
		return frame{}, errTooLarge
	}
	var mask [4]byte
	if _, err := io.ReadFull(r, mask[:]); err != nil {
		return frame{}, err
	}
	f.payload = make([]byte, n)
	if _, err := io.ReadFull(r, f.payload); err != nil {
		return frame{}, err
	}
	for i := range f.payload {
		f.payload[i] ^= mask[i%4]
	}
	return f, nil
}

// writeFrame writes one unmasked frame, as servers send them, and flushes.
func writeFrame(w *bufio.Writer, f frame) error {
	b0 := f.opcode
	if f.fin {
		b0 |= 0x80
	}
	hdr := []byte{b0}
	switch n := len(f.payload); {
	case n < 126:
		hdr = append(hdr, byte(n))
	case n <= 0xFFFF:
		hdr = append(hdr, 126)
		hdr = binary.BigEndian.AppendUint16(hdr, uint16(n))
	default:
		hdr = append(hdr, 127)
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(n))
	}
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	if _, err := w.Write(f.payload); err != nil {
		return err
	}
	return w.Flush()
}

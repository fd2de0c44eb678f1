package h1

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// requestWriter is a request ready to be written: its head, and its body
// when the body is held in memory, serialized in the scratch buffer.
type requestWriter struct {
	req    *http.Request
	s      *scratch
	method string
	// headLen is the length of the head in s.w; a held body follows it.
	headLen int
	// length is the body's length: 0 for none, -1 for chunked coding.
	length int64
	// held reports whether the body follows the head in s.w.
	held bool
	// body is the body still to be streamed, nil when there is none or
	// it is held.
	body io.Reader
	// consumed reports whether some of the streamed body has been read.
	consumed bool
	// expect reports whether the body waits for a 100 Continue.
	expect bool
	// wantClose reports whether the request asks for the connection to
	// close after it.
	wantClose bool
	bodyClose bool // the request's Body is closed
}

// Header fields that the transport writes itself from the request's
// fields; as in net/http, the Header's own entries for them are not sent.
func excludedField(k string) bool {
	switch k {
	case "Host", "User-Agent", "Content-Length", "Transfer-Encoding", "Trailer":
		return true
	}
	return false
}

// bodyError is a failure to read the request body, the client's side.
type bodyError struct{ err error }

func (e *bodyError) Error() string { return e.err.Error() }
func (e *bodyError) Unwrap() error { return e.err }

// outgoingLength is the length of r's body as net/http sees it: 0 for
// none, -1 when unknown.
func outgoingLength(r *http.Request) int64 {
	if r.Body == nil || r.Body == http.NoBody {
		return 0
	}
	if r.ContentLength != 0 {
		return r.ContentLength
	}
	return -1
}

func methodUsuallyLacksBody(m string) bool {
	switch m {
	case "", "GET", "HEAD", "DELETE", "OPTIONS", "PROPFIND", "SEARCH":
		return true
	}
	return false
}

// prepare serializes the head of r for the server at addr, and reads a
// body of known length up to Options.MaxReplayBody after it.
func (t *Transport) prepare(r *http.Request, addr string, s *scratch) (*requestWriter, error) {
	w := &s.rw
	*w = requestWriter{req: r, s: s, method: r.Method}
	if w.method == "" {
		w.method = "GET"
	} else if !httpguts.ValidHeaderFieldName(w.method) {
		return nil, fmt.Errorf("h1: invalid method %q", w.method)
	}
	host := r.Host
	if host == "" {
		host = addr
	}
	if !httpguts.ValidHostHeader(host) {
		host = "" // as net/http does: an empty Host is valid, a smuggled one is not
	}
	w.length = outgoingLength(r)
	if r.Body == nil && r.ContentLength != 0 {
		return nil, fmt.Errorf("h1: Request.ContentLength=%d with nil Body", r.ContentLength)
	}
	if w.length != 0 {
		w.body = r.Body
	}
	w.expect = w.length != 0 && r.ProtoAtLeast(1, 1) && httpguts.HeaderValuesContainsToken(r.Header["Expect"], "100-continue")
	w.wantClose = r.Close || httpguts.HeaderValuesContainsToken(r.Header["Connection"], "close")

	b := s.w[:0]
	b = append(b, w.method...)
	b = append(b, ' ')
	start := len(b)
	b = appendRequestURI(b, r)
	for _, c := range b[start:] {
		if c < ' ' || c == 0x7f {
			return nil, errors.New("h1: control character in request target")
		}
	}
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\n"...)
	if ua := r.Header["User-Agent"]; len(ua) > 0 {
		if v := trimValue(ua[0]); v != "" {
			if !httpguts.ValidHeaderFieldValue(v) {
				return nil, errors.New("h1: invalid header field value for \"User-Agent\"")
			}
			b = append(b, "User-Agent: "...)
			b = append(b, v...)
			b = append(b, "\r\n"...)
		}
	}
	if r.Close && !httpguts.HeaderValuesContainsToken(r.Header["Connection"], "close") {
		b = append(b, "Connection: close\r\n"...)
	}
	switch {
	case w.length > 0:
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, w.length, 10)
		b = append(b, "\r\n"...)
	case w.length < 0:
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
		var err error
		if b, err = appendTrailerNames(b, r.Trailer); err != nil {
			return nil, err
		}
	case w.method == "POST" || w.method == "PUT" || w.method == "PATCH":
		b = append(b, "Content-Length: 0\r\n"...)
	}
	for k, vv := range r.Header {
		if excludedField(k) {
			continue
		}
		if !httpguts.ValidHeaderFieldName(k) {
			return nil, fmt.Errorf("h1: invalid header field name %q", k)
		}
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				return nil, fmt.Errorf("h1: invalid header field value for %q", k)
			}
			b = append(b, k...)
			b = append(b, ": "...)
			b = append(b, trimValue(v)...)
			b = append(b, "\r\n"...)
		}
	}
	b = append(b, "\r\n"...)
	w.headLen = len(b)
	s.w = b
	if w.length > 0 && w.length <= int64(t.opts.MaxReplayBody) && !w.expect {
		if err := w.hold(); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// hold reads the whole body into the write buffer after the head.
func (w *requestWriter) hold() error {
	s := w.s
	n := w.headLen + int(w.length)
	s.w = slices.Grow(s.w[:w.headLen], int(w.length)+1)[:n+1]
	if _, err := io.ReadFull(w.body, s.w[w.headLen:n]); err != nil {
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			return fmt.Errorf("h1: request body shorter than its ContentLength %d", w.length)
		}
		return &bodyError{err}
	}
	if extra, _ := io.ReadFull(w.body, s.w[n:n+1]); extra > 0 {
		return fmt.Errorf("h1: request body longer than its ContentLength %d", w.length)
	}
	s.w = s.w[:n]
	w.held = true
	w.body = nil
	w.closeBody()
	return nil
}

// head returns the serialized head.
func (w *requestWriter) head() []byte { return w.s.w[:w.headLen] }

// buf returns what is written in one go: the head, and the body if held.
func (w *requestWriter) buf() []byte { return w.s.w }

// streamed reports whether a body remains to be streamed after buf.
func (w *requestWriter) streamed() bool { return w.body != nil }

// rewind makes the request ready to be sent again, and reports whether it
// can be: a streamed body that was read from can only be recreated by
// GetBody.
func (w *requestWriter) rewind() bool {
	if w.body == nil || !w.consumed {
		return true
	}
	if w.req.GetBody == nil {
		return false
	}
	body, err := w.req.GetBody()
	if err != nil {
		return false
	}
	w.body, w.consumed = body, false
	return true
}

// closeBody closes the request's body once.
func (w *requestWriter) closeBody() {
	if !w.bodyClose && w.req.Body != nil {
		w.bodyClose = true
		w.req.Body.Close()
	}
	if w.body != nil && w.body != w.req.Body {
		if c, ok := w.body.(io.Closer); ok {
			c.Close()
		}
	}
}

// minCopyBuffer is the least spare capacity used to copy a streamed body.
const minCopyBuffer = 16 << 10

// chunkHeadRoom is the room kept before chunk data for its size line.
const chunkHeadRoom = 18

// writeBody streams the body to c: exactly length bytes, or chunks (each
// written as it is read) followed by the trailers.
func (w *requestWriter) writeBody(c *conn, s *scratch) error {
	buf := s.w[len(s.w):cap(s.w)]
	if len(buf) < minCopyBuffer {
		s.w = slices.Grow(s.w, minCopyBuffer)
		buf = s.w[len(s.w):cap(s.w)]
	}
	w.consumed = true
	if w.length > 0 {
		return w.writeLength(c, buf)
	}
	return w.writeChunked(c, buf)
}

func (w *requestWriter) writeLength(c *conn, buf []byte) error {
	left := w.length
	for left > 0 {
		n, err := w.body.Read(buf[:min(int64(len(buf)), left)])
		if n > 0 {
			if werr := c.write(buf[:n]); werr != nil {
				return werr
			}
			left -= int64(n)
		}
		if err == io.EOF && left > 0 {
			return &bodyError{fmt.Errorf("h1: request body shorter than its ContentLength %d", w.length)}
		}
		if err != nil && err != io.EOF {
			return &bodyError{err}
		}
	}
	if n, _ := io.ReadFull(w.body, buf[:1]); n > 0 {
		return &bodyError{fmt.Errorf("h1: request body longer than its ContentLength %d", w.length)}
	}
	w.closeBody()
	return nil
}

func (w *requestWriter) writeChunked(c *conn, buf []byte) error {
	data := buf[chunkHeadRoom : len(buf)-2]
	for {
		n, err := w.body.Read(data)
		if n > 0 {
			size := strconv.AppendInt(buf[:0:chunkHeadRoom], int64(n), 16)
			start := chunkHeadRoom - len(size) - 2
			copy(buf[start:], size)
			buf[chunkHeadRoom-2], buf[chunkHeadRoom-1] = '\r', '\n'
			buf[chunkHeadRoom+n], buf[chunkHeadRoom+n+1] = '\r', '\n'
			if werr := c.write(buf[start : chunkHeadRoom+n+2]); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return &bodyError{err}
		}
	}
	w.closeBody()
	end := append(buf[:0], "0\r\n"...)
	end = appendTrailers(end, w.req.Trailer)
	end = append(end, "\r\n"...)
	return c.write(end)
}

// appendTrailerNames appends the "Trailer" field announcing the request's
// trailers, sorted, as net/http writes it.
func appendTrailerNames(b []byte, tr http.Header) ([]byte, error) {
	if len(tr) == 0 {
		return b, nil
	}
	keys := make([]string, 0, len(tr))
	for k, vv := range tr {
		if !httpguts.ValidHeaderFieldName(k) {
			return nil, fmt.Errorf("h1: invalid trailer field name %q", k)
		}
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				return nil, fmt.Errorf("h1: invalid trailer field value for %q", k)
			}
		}
		k = http.CanonicalHeaderKey(k)
		switch k {
		case "Transfer-Encoding", "Trailer", "Content-Length":
			return nil, fmt.Errorf("h1: invalid Trailer key %q", k)
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, "Trailer: "...)
	b = append(b, strings.Join(keys, ",")...)
	return append(b, "\r\n"...), nil
}

// appendTrailers appends the trailer fields, values with line breaks
// turned into spaces, as net/http writes them.
func appendTrailers(b []byte, tr http.Header) []byte {
	for k, vv := range tr {
		if !httpguts.ValidHeaderFieldName(k) {
			continue
		}
		for _, v := range vv {
			b = append(b, k...)
			b = append(b, ": "...)
			start := len(b)
			b = append(b, trimValue(v)...)
			for i := start; i < len(b); i++ {
				if b[i] == '\r' || b[i] == '\n' {
					b[i] = ' '
				}
			}
			b = append(b, "\r\n"...)
		}
	}
	return b
}

// appendRequestURI appends r.URL.RequestURI() without building a string.
func appendRequestURI(b []byte, r *http.Request) []byte {
	u := r.URL
	if u.Opaque == "" {
		p := u.EscapedPath()
		if p == "" {
			p = "/"
		}
		b = append(b, p...)
	} else {
		if strings.HasPrefix(u.Opaque, "//") {
			b = append(b, u.Scheme...)
			b = append(b, ':')
		}
		b = append(b, u.Opaque...)
	}
	if u.ForceQuery || u.RawQuery != "" {
		b = append(b, '?')
		b = append(b, u.RawQuery...)
	}
	return b
}

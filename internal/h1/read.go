package h1

import (
	"bufio"
	"bytes"
	"io"
	"math"
	"net/http"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// readHead appends one message head to buf, from its first line up to
// and including the empty line that ends it, and returns buf. Every line
// must end in CRLF; the head may not exceed limit bytes. got counts the
// bytes read. A trailer section (allowEmpty) may consist of the empty line
// alone; a response head may not.
func readHead(br *bufio.Reader, buf []byte, limit int, got *int, allowEmpty bool) ([]byte, error) {
	lineStart := len(buf)
	base := len(buf)
	for {
		frag, err := br.ReadSlice('\n')
		*got += len(frag)
		if len(buf)-base+len(frag) > limit {
			return buf, malformed("head larger than %d bytes", limit)
		}
		buf = append(buf, frag...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if err == io.EOF && len(buf) > base {
				err = io.ErrUnexpectedEOF
			}
			return buf, err
		}
		line := buf[lineStart:]
		if len(line) < 2 || line[len(line)-2] != '\r' {
			return buf, malformed("line ended by a bare LF")
		}
		if len(line) == 2 {
			if lineStart == base && !allowEmpty {
				return buf, malformed("empty line instead of a status line")
			}
			return buf, nil
		}
		lineStart = len(buf)
	}
}

// response is a Response allocated together with its body reader and
// room for the field values of a small head.
type response struct {
	res  http.Response
	body body
	vals [8]string
}

// parseResponse parses a response head read by readHead, the answer to a
// request with the given method, and sets up how its body is delimited.
// The field names in head are canonicalized in place.
func parseResponse(head []byte, method string) (*http.Response, error) {
	end := bytes.IndexByte(head, '\n') - 1
	sl := head[:end]
	if len(sl) < 12 || string(sl[:7]) != "HTTP/1." || !isDigit(sl[7]) || sl[8] != ' ' ||
		!isDigit(sl[9]) || !isDigit(sl[10]) || !isDigit(sl[11]) || (len(sl) > 12 && sl[12] != ' ') {
		return nil, malformed("status line %q", limitQuote(sl))
	}
	for _, c := range sl[12:] {
		if !validValueByte(c) {
			return nil, malformed("status line %q", limitQuote(sl))
		}
	}
	code := int(sl[9]-'0')*100 + int(sl[10]-'0')*10 + int(sl[11]-'0')
	if code < 100 || code > 599 {
		return nil, malformed("status code %d", code)
	}
	n, err := checkFields(head, end+2)
	if err != nil {
		return nil, err
	}
	r := new(response)
	res := &r.res
	res.Body = &r.body
	str := string(head)
	res.Proto = str[:8]
	res.ProtoMajor, res.ProtoMinor = 1, int(sl[7]-'0')
	res.Status = str[9:end]
	res.StatusCode = code
	res.Header = make(http.Header, n)
	// One backing array for the values; the last slot is for
	// TransferEncoding.
	strs := r.vals[:]
	if n+1 > len(strs) {
		strs = make([]string, n+1)
	}
	strs = strs[:n+1]
	addFields(res.Header, str, end+2, strs[:n])
	if err := frame(r, method, strs[n:]); err != nil {
		return nil, err
	}
	return res, nil
}

// checkFields checks the field lines of head from pos up to the empty
// line that ends them, canonicalizes their names in place and returns how
// many there are.
func checkFields(head []byte, pos int) (int, error) {
	n := 0
	for {
		eol := pos + bytes.IndexByte(head[pos:], '\n') - 1
		line := head[pos:eol]
		if len(line) == 0 {
			return n, nil
		}
		if line[0] == ' ' || line[0] == '\t' {
			return 0, malformed("obs-fold or whitespace before a field name")
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || !validTokenBytes(line[:colon]) {
			return 0, malformed("field line %q", limitQuote(line))
		}
		for _, c := range line[colon+1:] {
			if !validValueByte(c) {
				return 0, malformed("field value of %q", limitQuote(line[:colon]))
			}
		}
		canonicalize(line[:colon])
		n++
		pos = eol + 2
	}
}

// addFields adds to h the field lines of str, checked by checkFields,
// from pos up to the empty line; vals has room for their values.
func addFields(h http.Header, str string, pos int, vals []string) {
	for {
		eol := pos + strings.IndexByte(str[pos:], '\n') - 1
		if eol == pos {
			return
		}
		line := str[pos:eol]
		colon := strings.IndexByte(line, ':')
		key, value := line[:colon], trimValue(line[colon+1:])
		if vv, ok := h[key]; ok {
			h[key] = append(vv, value)
		} else {
			vv, vals = vals[:1:1], vals[1:]
			vv[0] = value
			h[key] = vv
		}
		pos = eol + 2
	}
}

// frame applies the fields that delimit the body and the connection's
// life (RFC 9112, section 6), as net/http does, but strictly: several
// Content-Length fields, Transfer-Encoding with Content-Length, in an
// HTTP/1.0 answer or as anything but "chunked" are errors. te is a slot
// for TransferEncoding.
func frame(r *response, method string, te []string) error {
	res, h := &r.res, r.res.Header
	chunked := false
	if v, ok := h["Transfer-Encoding"]; ok {
		switch {
		case res.ProtoMinor == 0:
			return malformed("Transfer-Encoding in an HTTP/1.0 answer")
		case len(v) != 1 || !equalFold(v[0], "chunked"):
			return malformed("unsupported Transfer-Encoding %q", v)
		case h["Content-Length"] != nil:
			return malformed("both Transfer-Encoding and Content-Length")
		}
		delete(h, "Transfer-Encoding")
		chunked = true
		te[0] = "chunked"
		res.TransferEncoding = te[:1:1]
	}
	length := int64(-1)
	if v, ok := h["Content-Length"]; ok {
		if len(v) != 1 {
			return malformed("%d Content-Length fields", len(v))
		}
		n, ok := parseLength(v[0])
		if !ok {
			return malformed("Content-Length %q", limitQuote([]byte(v[0])))
		}
		length = n
	}
	conn := h["Connection"]
	if res.ProtoMinor == 0 {
		res.Close = httpguts.HeaderValuesContainsToken(conn, "close") || !httpguts.HeaderValuesContainsToken(conn, "keep-alive")
	} else if httpguts.HeaderValuesContainsToken(conn, "close") {
		res.Close = true
		delete(h, "Connection")
	}
	b := &r.body
	code := res.StatusCode
	switch {
	case method == "HEAD":
		res.ContentLength = length
	case code < 200 || code == http.StatusNoContent || code == http.StatusNotModified:
		res.ContentLength = 0
	case chunked:
		res.ContentLength = -1
		b.mode = bodyChunked
	case length == 0:
		res.ContentLength = 0
	case length > 0:
		res.ContentLength = length
		b.mode, b.left = bodyLength, length
	default:
		res.ContentLength = -1
		res.Close = true
		b.mode = bodyClose
	}
	if chunked {
		if v, ok := h["Trailer"]; ok {
			delete(h, "Trailer")
			tr, err := announcedTrailers(v)
			if err != nil {
				return err
			}
			res.Trailer = tr
		}
	}
	if p := h["Pragma"]; len(p) > 0 && p[0] == "no-cache" {
		if _, ok := h["Cache-Control"]; !ok {
			h["Cache-Control"] = []string{"no-cache"}
		}
	}
	b.res = res
	return nil
}

// announcedTrailers returns the Trailer map announced by a chunked
// answer's Trailer fields: the canonical names with nil values.
func announcedTrailers(vv []string) (http.Header, error) {
	tr := http.Header{}
	for _, v := range vv {
		for len(v) > 0 {
			var name string
			name, v = cutComma(v)
			if name == "" {
				continue
			}
			name = http.CanonicalHeaderKey(name)
			switch name {
			case "Transfer-Encoding", "Trailer", "Content-Length":
				return nil, malformed("trailer %q announced", name)
			}
			tr[name] = nil
		}
	}
	if len(tr) == 0 {
		return nil, nil
	}
	return tr, nil
}

// parseLength parses a Content-Length value: decimal digits that fit in
// an int64.
func parseLength(v string) (int64, bool) {
	if v == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(v); i++ {
		if !isDigit(v[i]) {
			return 0, false
		}
		d := int64(v[i] - '0')
		if n > (math.MaxInt64-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// limitQuote shortens b for an error message.
func limitQuote(b []byte) string {
	const max = 64
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}

package h1

import (
	"strings"

	"golang.org/x/net/http/httpguts"
)

// Lexical rules of RFC 9110 (section 5.6) and RFC 9112.

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// The checks of tokens, field values and Host values are httpguts's, the
// ones net/http applies, so that this transport refuses what net/http
// refuses.

// validTokenBytes is httpguts.ValidHeaderFieldName for a field name still
// in the read buffer.
func validTokenBytes(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !httpguts.IsTokenRune(rune(c)) {
			return false
		}
	}
	return true
}

// validValueByte reports whether c may appear in a field value or reason
// phrase: VCHAR, SP, HTAB or obs-text (httpguts.ValidHeaderFieldValue).
func validValueByte(c byte) bool { return c >= ' ' && c != 0x7f || c == '\t' }

// canonicalize turns a valid field name into its canonical form in place,
// as textproto.CanonicalMIMEHeaderKey does.
func canonicalize(b []byte) {
	upper := true
	for i, c := range b {
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		} else if !upper && 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
		upper = c == '-'
	}
}

// trimValue removes the optional whitespace around a field value.
func trimValue(s string) string {
	for len(s) > 0 && isSpace(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// cutComma returns the first element of a comma-separated list, trimmed,
// and the rest.
func cutComma(v string) (elem, rest string) {
	if i := strings.IndexByte(v, ','); i >= 0 {
		return trimValue(v[:i]), v[i+1:]
	}
	return trimValue(v), ""
}

// equalFold compares ASCII strings without case.
func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

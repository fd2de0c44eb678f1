package h1

import "strings"

// Lexical rules of RFC 9110 (section 5.6) and RFC 9112.

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// tokenByte holds the bytes allowed in a token (tchar).
var tokenByte = alnumAnd("!#$%&'*+-.^_`|~")

// alnumAnd returns the set of ASCII letters, digits and the given bytes.
func alnumAnd(extra string) (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for i := 0; i < len(extra); i++ {
		t[extra[i]] = true
	}
	return t
}

func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenByte[s[i]] {
			return false
		}
	}
	return true
}

func validTokenBytes(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !tokenByte[c] {
			return false
		}
	}
	return true
}

// validValueByte reports whether c may appear in a field value or reason
// phrase: VCHAR, SP, HTAB or obs-text.
func validValueByte(c byte) bool { return c >= ' ' && c != 0x7f || c == '\t' }

func validValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if !validValueByte(s[i]) {
			return false
		}
	}
	return true
}

// hostByte holds the bytes of a URI host and port, as net/http checks a
// Host value.
var hostByte = alnumAnd("!$%&'()*+,-.:;=[]_~")

func validHost(h string) bool {
	for i := 0; i < len(h); i++ {
		if !hostByte[h[i]] {
			return false
		}
	}
	return true
}

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

// hasToken reports whether a comma-separated list in any of vv holds the
// token, compared without case.
func hasToken(vv []string, token string) bool {
	for _, v := range vv {
		for len(v) > 0 {
			var elem string
			elem, v = cutComma(v)
			if equalFold(elem, token) {
				return true
			}
		}
	}
	return false
}

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

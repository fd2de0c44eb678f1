package httproute

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"

	"github.com/httproute/httproute/internal/hex"
)

// EscapedSlashAction is what the Router does with a request path that holds
// an escaped slash or backslash: "%2F" or "%5C" in either case, or a raw
// "\" (which net/http hands over as "%5C"). These are Envoy's four actions
// (HttpConnectionManager.path_with_escaped_slashes_action) under Envoy
// Gateway's names (ClientTrafficPolicy spec.path.escapedSlashesAction).
type EscapedSlashAction uint8

const (
	// EscapedSlashUnescapeAndRedirect answers 307 Temporary Redirect to
	// the normalized path with the escapes turned into "/", so that the
	// client, every intermediary, the Router and the backend all see the
	// same path. It is the zero value: Envoy Gateway's default.
	EscapedSlashUnescapeAndRedirect EscapedSlashAction = iota
	// EscapedSlashKeepUnchanged keeps "%2F" and "%5C" as escapes (their hex
	// upper-cased): they are part of a segment, never a separator, for
	// matching and for the backend.
	EscapedSlashKeepUnchanged
	// EscapedSlashReject answers 400 Bad Request.
	EscapedSlashReject
	// EscapedSlashUnescapeAndForward turns the escapes into "/" before
	// matching and forwards the result. Do not use it when something in
	// front of the Router makes path-based decisions on the raw path.
	EscapedSlashUnescapeAndForward
)

func (a EscapedSlashAction) String() string {
	switch a {
	case EscapedSlashUnescapeAndRedirect:
		return "UnescapeAndRedirect"
	case EscapedSlashKeepUnchanged:
		return "KeepUnchanged"
	case EscapedSlashReject:
		return "RejectRequest"
	case EscapedSlashUnescapeAndForward:
		return "UnescapeAndForward"
	default:
		return fmt.Sprintf("EscapedSlashAction(%d)", uint8(a))
	}
}

// DefaultMaxPathLength is the longest request path, in bytes as sent
// (escapes count three), that a Router serves when Config.MaxPathLength is
// zero. Longer paths are answered 414 URI Too Long before they are
// normalized or matched.
const DefaultMaxPathLength = 8 << 10

// pathPolicy is the request-path part of a Config, compiled. The zero
// pathPolicy is Envoy Gateway's defaults with DefaultMaxPathLength.
type pathPolicy struct {
	slashes EscapedSlashAction
	maxLen  int
}

func newPathPolicy(cfg *Config) (pathPolicy, error) {
	switch cfg.EscapedSlashes {
	case EscapedSlashUnescapeAndRedirect, EscapedSlashKeepUnchanged, EscapedSlashReject, EscapedSlashUnescapeAndForward:
	default:
		return pathPolicy{}, fmt.Errorf("httproute: Config.EscapedSlashes: Unsupported value: %s", cfg.EscapedSlashes)
	}
	return pathPolicy{slashes: cfg.EscapedSlashes, maxLen: cfg.MaxPathLength}, nil
}

// pathVerdict is what a request path calls for.
type pathVerdict uint8

const (
	pathServe      pathVerdict = iota // route the normalized path
	pathRedirect                      // 307 to the normalized path (escaped slashes)
	pathBadRequest                    // 400: an invalid escape, a refused escaped slash, an opaque URL
	pathTooLong                       // 414
)

// check returns the path of u as the client sent it (escaped), its
// normalized form and what to do with the request. It does not allocate
// when u's path is already normal and needs no escaping.
func (pp pathPolicy) check(u *url.URL) (raw, path string, v pathVerdict) {
	if u.Opaque != "" {
		// "GET http:x/../admin": a rootless path no route can name.
		return "", "", pathBadRequest
	}
	raw = requestPath(u)
	limit := pp.maxLen
	if limit <= 0 {
		limit = DefaultMaxPathLength
	}
	if len(raw) > limit {
		return raw, "", pathTooLong
	}
	path, v = normalizePath(raw, pp.slashes, false)
	return raw, path, v
}

// answer writes the answer to a request whose path is not served as is.
func (v pathVerdict) answer(w http.ResponseWriter, r *http.Request, path string) {
	switch v {
	case pathRedirect:
		// A path reference: the normalized path never starts with "//",
		// so it cannot be read as another host.
		loc := path
		if r.URL.RawQuery != "" || r.URL.ForceQuery {
			loc += "?" + r.URL.RawQuery
		}
		w.Header().Set("Location", loc)
		writeStatus(w, http.StatusTemporaryRedirect)
	case pathTooLong:
		writeStatus(w, http.StatusRequestURITooLong)
	default:
		writeStatus(w, http.StatusBadRequest)
	}
}

// requestPath returns the escaped path of u as the client sent it: RawPath
// when it is an encoding of Path (even one that url.URL.EscapedPath would
// re-encode, losing the difference between "%2F" and "/"), otherwise
// EscapedPath.
func requestPath(u *url.URL) string {
	if u.RawPath != "" && unescapesTo(u.RawPath, u.Path) {
		return u.RawPath
	}
	return u.EscapedPath()
}

// unescapesTo reports whether the escaped path raw decodes to path. It
// does not allocate.
func unescapesTo(raw, path string) bool {
	j := 0
	for i := 0; i < len(raw); j++ {
		c := raw[i]
		if c == '%' {
			var ok bool
			if c, ok = escapeAt(raw, i); !ok {
				return false
			}
			i += 3
		} else {
			i++
		}
		if j >= len(path) || path[j] != c {
			return false
		}
	}
	return j == len(path)
}

// normalizePath returns the normal form of an escaped request path, the
// one form the Router matches, rewrites, redirects and forwards (RFC 3986
// section 6.2.2):
//
//   - percent-encoded unreserved characters (ALPHA, DIGIT, "-", ".", "_",
//     "~") are decoded (section 6.2.2.2), so "/%61dmin" is "/admin";
//   - the hex digits of the escapes that remain are upper-cased (section
//     6.2.2.1), and bytes that may not appear raw in a path are escaped;
//   - "." and ".." segments are resolved (section 6.2.2.3, "%2e" included)
//     and repeated slashes merged; a trailing slash is kept; the result
//     starts with "/";
//   - escaped slashes and backslashes follow slashes.
//
// An invalid escape ("%zz", a lone "%") makes the path a bad request,
// unless lenient, which takes the "%" literally (as "%25"). The verdict
// is pathRedirect when slashes is EscapedSlashUnescapeAndRedirect and an
// escaped slash was unescaped. normalizePath returns p itself, without
// allocating, when p is already normal; normalizing a result again
// changes nothing.
func normalizePath(p string, slashes EscapedSlashAction, lenient bool) (string, pathVerdict) {
	if isNormalPath(p, slashes == EscapedSlashKeepUnchanged) {
		return p, pathServe
	}
	b := make([]byte, 1, len(p)+8)
	b[0] = '/'
	seg := 1 // start of the segment being written
	unescaped := false
	for i := 0; i < len(p); {
		c, escaped := p[i], false
		if c == '%' {
			d, ok := escapeAt(p, i)
			switch {
			case ok:
				c, escaped = d, true
				i += 3
			case lenient:
				i++ // a literal "%", escaped below
			default:
				return "", pathBadRequest
			}
		} else {
			i++
		}
		var enc bool // write c as an escape
		switch {
		case c == '/' && !escaped:
			b, seg = endSegment(b, seg, true)
			continue
		case c == '/' || c == '\\':
			switch slashes {
			case EscapedSlashKeepUnchanged:
				enc = true
			case EscapedSlashReject:
				return "", pathBadRequest
			default:
				unescaped = true
				b, seg = endSegment(b, seg, true)
				continue
			}
		case escaped:
			enc = !isUnreserved(c)
		default:
			enc = !isPathChar(c)
		}
		if enc {
			b = append(b, '%', upperHex[c>>4], upperHex[c&15])
		} else {
			b = append(b, c)
		}
	}
	b, _ = endSegment(b, seg, false)
	if unescaped && slashes == EscapedSlashUnescapeAndRedirect {
		return string(b), pathRedirect
	}
	return string(b), pathServe
}

const upperHex = "0123456789ABCDEF"

// endSegment closes the segment b[seg:], which a separator ends when sep:
// an empty segment merges with its neighbour, "." disappears, ".." takes
// the previous segment with it. It returns b and the start of the next
// segment. b always starts with "/", and ends with one between segments.
func endSegment(b []byte, seg int, sep bool) ([]byte, int) {
	switch s := b[seg:]; {
	case len(s) == 0:
	case len(s) == 1 && s[0] == '.':
		b = b[:seg]
	case len(s) == 2 && s[0] == '.' && s[1] == '.':
		b = b[:seg]
		if seg > 1 {
			b = b[:bytes.LastIndexByte(b[:seg-1], '/')+1]
		}
	case sep:
		b = append(b, '/')
	}
	return b, len(b)
}

// isNormalPath reports whether p is its own normal form (normalizePath),
// escaped slashes being normal when keepSlashes. It does not allocate.
func isNormalPath(p string, keepSlashes bool) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '/':
			rest := p[i+1:]
			switch {
			case rest == "":
			case rest[0] == '/':
				return false
			case rest[0] == '.' && (len(rest) == 1 || rest[1] == '/'):
				return false
			case rest[0] == '.' && rest[1] == '.' && (len(rest) == 2 || rest[2] == '/'):
				return false
			}
		case c == '%':
			d, ok := escapeAt(p, i)
			if !ok || !upperEscape(p, i) {
				return false
			}
			if isUnreserved(d) || ((d == '/' || d == '\\') && !keepSlashes) {
				return false
			}
			i += 2
		case !isPathChar(c):
			return false
		}
	}
	return true
}

// isUnreserved reports whether c is an RFC 3986 unreserved character.
func isUnreserved(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return c == '-' || c == '.' || c == '_' || c == '~'
}

// escapeAt decodes the escape "%XY" that starts at s[i]; ok is false when
// two hex digits do not follow the "%".
func escapeAt(s string, i int) (c byte, ok bool) {
	if i+2 >= len(s) {
		return 0, false
	}
	hi, ok1 := hex.Digit(s[i+1])
	lo, ok2 := hex.Digit(s[i+2])
	return hi<<4 | lo, ok1 && ok2
}

// upperEscape reports whether the valid escape at s[i] has upper-case hex
// digits.
func upperEscape(s string, i int) bool {
	up := func(c byte) bool { return '0' <= c && c <= '9' || 'A' <= c && c <= 'F' }
	return up(s[i+1]) && up(s[i+2])
}

// originForm returns the origin-form request-target of a request with
// URL u whose escaped path is escaped, the target a proxied backend
// receives, and whether ru (a RequestURI) differs from it. It allocates
// only when they differ.
func originForm(ru string, u *url.URL, escaped string) (string, bool) {
	q := u.RawQuery != "" || u.ForceQuery
	if len(ru) >= len(escaped) && ru[:len(escaped)] == escaped {
		rest := ru[len(escaped):]
		if !q && rest == "" || q && len(rest) == len(u.RawQuery)+1 && rest[0] == '?' && rest[1:] == u.RawQuery {
			return ru, false
		}
	}
	if q {
		return escaped + "?" + u.RawQuery, true
	}
	return escaped, true
}

// withRequestURI returns r, or a copy of r whose RequestURI is the
// origin-form target of its URL when r's is not, so that an in-process
// handler sees the target a proxied backend would receive. A CONNECT
// request keeps its authority-form target.
func withRequestURI(r *http.Request) *http.Request {
	if r.URL == nil || r.Method == http.MethodConnect {
		return r
	}
	escaped := r.URL.EscapedPath()
	if escaped == "" {
		escaped = "/"
	}
	ru, differs := originForm(r.RequestURI, r.URL, escaped)
	if !differs {
		return r
	}
	r2 := new(http.Request)
	*r2 = *r
	r2.RequestURI = ru
	return r2
}

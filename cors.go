package httproute

import (
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// The CORS filter (HTTPCORSFilter, GEP-1767) answers preflight requests
// itself and adds the CORS headers to the other responses of the rule or
// backendRef it is on:
//
//   - A preflight is an OPTIONS request with Origin and
//     Access-Control-Request-Method. The filter answers it with 204 No
//     Content and never passes it on, whether the Origin is allowed or not
//     (a refused preflight gets no CORS headers, which the browser reads
//     as a refusal). Filters listed after CORS do not see preflights.
//   - Any other request is passed on; when its Origin is allowed, the
//     response gets Access-Control-Allow-Origin (and -Allow-Credentials,
//     -Expose-Headers). CORS headers written by the backend are removed
//     first: the route's configuration is the authority.
//   - Access-Control-Allow-Origin always echoes the request's Origin, never
//     "*", which the spec permits in every case and requires with
//     credentials; likewise a wildcard in allowMethods or allowHeaders
//     echoes Access-Control-Request-Method or -Headers. Every response of
//     the filter therefore carries Vary: Origin, and preflight answers
//     Vary on the two request headers too.
//   - exposeHeaders "*" is sent as "*" without credentials; with
//     credentials, where "*" is not allowed, an actual response exposes
//     the names of the headers it carries instead (CORS-safelisted ones
//     excepted), and a preflight answer only the names configured.
//   - maxAge 0 (unset) sends the spec's default of 5 seconds.
type cors struct {
	anyOrigin   bool
	origins     []originPattern
	credentials bool
	anyMethod   bool
	methods     string // configured methods joined with ", "; "" when none
	anyHeader   bool
	headers     string // configured header names joined with ", "
	anyExpose   bool
	expose      []string // configured names other than "*"
	maxAge      string
}

// originPattern is one allowed origin: a scheme, a host (exact, "*." plus
// a suffix, or "*" alone), and a port, defaulted from the scheme.
type originPattern struct {
	scheme string
	host   string // lower case; for a wildcard, the suffix with its "."
	any    bool   // host "*": every host
	wild   bool   // host "*.suffix": hosts ending in ".suffix"
	port   string
}

const corsDefaultMaxAge = 5

var corsMethods = []string{"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "*"}

// corsSafelisted are the CORS-safelisted response header names, which
// need no exposing.
var corsSafelisted = map[string]bool{
	"Cache-Control":    true,
	"Content-Language": true,
	"Content-Length":   true,
	"Content-Type":     true,
	"Expires":          true,
	"Last-Modified":    true,
	"Pragma":           true,
}

func compileCORS(f *gatewayv1.HTTPCORSFilter, path *field.Path) (*cors, *field.Error) {
	c := &cors{credentials: f.AllowCredentials != nil && *f.AllowCredentials}
	for i, o := range f.AllowOrigins {
		p := path.Child("allowOrigins").Index(i)
		if o == "*" {
			if len(f.AllowOrigins) > 1 {
				return nil, field.Invalid(path.Child("allowOrigins"), "*", "AllowOrigins cannot contain '*' alongside other origins")
			}
			c.anyOrigin = true
			continue
		}
		op, ok := parseOriginPattern(string(o))
		if !ok {
			return nil, field.Invalid(p, string(o), "must be '*' or <scheme>://<host>(:<port>) with scheme http or https, a host that may start with '*.' or be '*', and a port from 1 to 65535")
		}
		c.origins = append(c.origins, op)
	}
	var methods []string
	for i, m := range f.AllowMethods {
		p := path.Child("allowMethods").Index(i)
		if !slices.Contains(corsMethods, string(m)) {
			return nil, field.NotSupported(p, string(m), corsMethods)
		}
		if m == "*" {
			if len(f.AllowMethods) > 1 {
				return nil, field.Invalid(path.Child("allowMethods"), "*", "AllowMethods cannot contain '*' alongside other methods")
			}
			c.anyMethod = true
			continue
		}
		methods = append(methods, string(m))
	}
	c.methods = strings.Join(methods, ", ")
	var headers []string
	for i, h := range f.AllowHeaders {
		p := path.Child("allowHeaders").Index(i)
		if h == "*" {
			if len(f.AllowHeaders) > 1 {
				return nil, field.Invalid(path.Child("allowHeaders"), "*", "AllowHeaders cannot contain '*' alongside other headers")
			}
			c.anyHeader = true
			continue
		}
		if !validHeaderName(string(h)) {
			return nil, field.Invalid(p, string(h), "must be a valid HTTP header name")
		}
		headers = append(headers, string(h))
	}
	c.headers = strings.Join(headers, ", ")
	for i, h := range f.ExposeHeaders {
		if h == "*" {
			c.anyExpose = true
			continue
		}
		if !validHeaderName(string(h)) {
			return nil, field.Invalid(path.Child("exposeHeaders").Index(i), string(h), "must be a valid HTTP header name")
		}
		c.expose = append(c.expose, string(h))
	}
	switch {
	case f.MaxAge == 0:
		c.maxAge = strconv.Itoa(corsDefaultMaxAge)
	case f.MaxAge < 0:
		return nil, field.Invalid(path.Child("maxAge"), f.MaxAge, "should be greater than or equal to 1")
	default:
		c.maxAge = strconv.Itoa(int(f.MaxAge))
	}
	return c, nil
}

// parseOriginPattern parses an allowOrigins entry other than "*".
func parseOriginPattern(s string) (originPattern, bool) {
	scheme, hostport, ok := strings.Cut(strings.ToLower(s), "://")
	if !ok || (scheme != "http" && scheme != "https") {
		return originPattern{}, false
	}
	host, port, ok := splitOriginHostPort(scheme, hostport)
	if !ok || strings.HasPrefix(host, "[") {
		return originPattern{}, false
	}
	op := originPattern{scheme: scheme, port: port}
	switch {
	case host == "*":
		op.any = true
	case strings.HasPrefix(host, "*."):
		op.wild, op.host = true, host[1:]
		host = host[2:]
	default:
		op.host = host
	}
	if !op.any && !validOriginHost(host) {
		return originPattern{}, false
	}
	return op, true
}

// validOriginHost reports whether h is a DNS name or IPv4 address made of
// letters, digits, '-' and non-empty '.'-separated labels.
func validOriginHost(h string) bool {
	if h == "" {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z') && !('0' <= c && c <= '9') && c != '-' {
				return false
			}
		}
	}
	return true
}

// splitOriginHostPort splits the host and port of an origin, defaulting
// the port from the scheme. An IPv6 host keeps its brackets.
func splitOriginHostPort(scheme, hostport string) (host, port string, ok bool) {
	host = hostport
	if i := strings.LastIndexByte(hostport, ':'); i >= 0 && !strings.Contains(hostport[i:], "]") {
		host, port = hostport[:i], hostport[i+1:]
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || port[0] == '+' {
			return "", "", false
		}
		port = strconv.Itoa(n)
	}
	if host == "" || strings.ContainsAny(host, "/?#@") {
		return "", "", false
	}
	if port == "" {
		port = "80"
		if scheme == "https" {
			port = "443"
		}
	}
	return host, port, true
}

// allows reports whether the value of an Origin request header is allowed.
func (c *cors) allows(origin string) bool {
	if origin == "" {
		return false
	}
	if c.anyOrigin {
		return true
	}
	if len(c.origins) == 0 {
		return false
	}
	scheme, hostport, ok := strings.Cut(strings.ToLower(origin), "://")
	if !ok {
		return false // "null" and other opaque origins
	}
	host, port, ok := splitOriginHostPort(scheme, hostport)
	if !ok {
		return false
	}
	for i := range c.origins {
		o := &c.origins[i]
		if o.scheme != scheme || o.port != port {
			continue
		}
		switch {
		case o.any:
			return true
		case o.wild:
			if len(host) > len(o.host) && strings.HasSuffix(host, o.host) {
				return true
			}
		case o.host == host:
			return true
		}
	}
	return false
}

func (c *cors) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if r.Method == http.MethodOptions && origin != "" && r.Header.Get("Access-Control-Request-Method") != "" {
			c.preflight(w, r, origin)
			return
		}
		allowed := c.allows(origin)
		hw := &headerWriter{ResponseWriter: w, before: func(h http.Header) { c.actual(h, origin, allowed) }}
		next.ServeHTTP(hw, r)
		hw.finish()
	})
}

// preflight answers a preflight request.
func (c *cors) preflight(w http.ResponseWriter, r *http.Request, origin string) {
	h := w.Header()
	addVary(h, "Origin")
	addVary(h, "Access-Control-Request-Method")
	addVary(h, "Access-Control-Request-Headers")
	if c.allows(origin) {
		h.Set("Access-Control-Allow-Origin", origin)
		if c.credentials {
			h.Set("Access-Control-Allow-Credentials", "true")
		}
		switch {
		case c.anyMethod:
			h.Set("Access-Control-Allow-Methods", r.Header.Get("Access-Control-Request-Method"))
		case c.methods != "":
			h.Set("Access-Control-Allow-Methods", c.methods)
		}
		switch {
		case c.anyHeader:
			if req := requestedHeaders(r.Header); req != "" {
				h.Set("Access-Control-Allow-Headers", req)
			}
		case c.headers != "":
			h.Set("Access-Control-Allow-Headers", c.headers)
		}
		if v := c.exposeValue(nil); v != "" {
			h.Set("Access-Control-Expose-Headers", v)
		}
		h.Set("Access-Control-Max-Age", c.maxAge)
	}
	w.WriteHeader(http.StatusNoContent)
}

// requestedHeaders is the Access-Control-Request-Headers value of a
// preflight, its lines joined.
func requestedHeaders(h http.Header) string {
	return strings.Join(h.Values("Access-Control-Request-Headers"), ", ")
}

// actual sets the CORS headers of a response to a request that is not a
// preflight, replacing any the backend wrote.
func (c *cors) actual(h http.Header, origin string, allowed bool) {
	for _, name := range []string{
		"Access-Control-Allow-Origin", "Access-Control-Allow-Credentials", "Access-Control-Expose-Headers",
		"Access-Control-Allow-Methods", "Access-Control-Allow-Headers", "Access-Control-Max-Age",
	} {
		delete(h, name)
	}
	if allowed {
		if v := c.exposeValue(h); v != "" {
			h.Set("Access-Control-Expose-Headers", v)
		}
	}
	addVary(h, "Origin")
	if !allowed {
		return
	}
	h.Set("Access-Control-Allow-Origin", origin)
	if c.credentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
}

// exposeValue is the Access-Control-Expose-Headers value for a response
// with headers h (nil for a preflight answer).
func (c *cors) exposeValue(h http.Header) string {
	names := c.expose
	if c.anyExpose {
		if !c.credentials {
			return strings.Join(append([]string{"*"}, c.expose...), ", ")
		}
		// With credentials "*" would be read as a header name: expose
		// what the response carries.
		names = slices.Clone(c.expose)
		for name := range h {
			if !corsSafelisted[name] && !strings.HasPrefix(name, "Access-Control-") &&
				!slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, name) }) {
				names = append(names, name)
			}
		}
		slices.Sort(names[len(c.expose):])
	}
	return strings.Join(names, ", ")
}

// addVary adds name to the Vary header unless it is already listed or
// Vary is "*".
func addVary(h http.Header, name string) {
	for _, line := range h.Values("Vary") {
		for _, v := range strings.Split(line, ",") {
			v = strings.TrimSpace(v)
			if v == "*" || strings.EqualFold(v, name) {
				return
			}
		}
	}
	h.Add("Vary", textproto.CanonicalMIMEHeaderKey(name))
}

package httproute

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/textproto"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// The ExternalAuth filter (experimental channel, GEP-1494) asks an
// authorization backend about each request before passing it on. Only the
// HTTP protocol is implemented; GRPC makes the rule invalid with an
// Unsupported value error on externalAuth.protocol.
//
// The authorization request has the client request's method, its path and
// query behind http.path (the prefix, "/" when empty), its Host, its
// Authorization header and the headers listed in http.allowedHeaders, and
// no other header. With forwardBody.maxSize > 0 it also carries the body,
// buffered up to that size, with a matching Content-Length; the client's
// body then reaches the backend whole. A body larger than maxSize is
// rejected with 413 Content Too Large, as Envoy does by default: of the
// spec's two texts (reject with a 4xx; truncate to maxSize) this is the one
// that fails closed.
//
// A 200 answer lets the request through, with the headers listed in
// http.allowedResponseHeaders set on it from the answer. Those names are
// the auth service's alone: the client's own fields of those names (and of
// names that differ only in case or in "_" for "-", which CGI-style
// backends read as the same variable) are removed before the check, so
// that an answer without one cannot let a forged value through. When the
// list is empty, every header of the answer is set except Host, hop-by-hop headers
// and those describing the answer's own message (Content-Length,
// Content-Type, Content-Encoding, Date), which would corrupt the request.
// Any other answer from 201 to 599 is returned to the client as it is:
// status, headers and body. Fail closed: when the backend cannot be
// reached, errors, does not answer within extAuthTimeout (or the request's
// deadline) or answers something else, the client gets 503 Service
// Unavailable and the Router's logger a Warn record. A backendRef that
// cannot be resolved makes the requests the filter sees answer 500.
type extAuth struct {
	name        string
	backend     Backend
	host        string   // URL host of authorization requests
	prefix      string   // "" or a path starting with "/" without trailing "/"
	reqHeaders  []string // canonical names sent besides Authorization
	respHeaders []string // canonical names copied on 200; nil copies all
	maxBody     int64
	logger      *slog.Logger
}

// extAuthTimeout bounds an authorization request.
const extAuthTimeout = 10 * time.Second

// extAuthPathRE is the pattern of HTTPAuthConfig.Path.
var extAuthPathRE = regexp.MustCompile(`^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$`)

// extAuthNotCopied reports whether header k of a 200 authorization answer
// is not set on the request when allowedResponseHeaders is empty: a
// hop-by-hop field (hopField), or one that describes the answer itself.
func extAuthNotCopied(k string) bool {
	switch k {
	case "Host", "Authority", "Content-Length", "Content-Type", "Content-Encoding", "Date":
		return true
	}
	return hopField(k)
}

func (rc *ruleCompiler) compileExtAuth(f *gatewayv1.HTTPExternalAuthFilter, path *field.Path) (middleware, *Error) {
	invalid := func(fe *field.Error) (middleware, *Error) {
		return nil, rc.c.routeError(rc.route, reasonUnsupportedValue, fe)
	}
	switch f.ExternalAuthProtocol {
	case gatewayv1.HTTPRouteExternalAuthHTTPProtocol:
	case gatewayv1.HTTPRouteExternalAuthGRPCProtocol:
		return invalid(field.NotSupported(path.Child("protocol"), f.ExternalAuthProtocol,
			[]gatewayv1.HTTPRouteExternalAuthProtocol{gatewayv1.HTTPRouteExternalAuthHTTPProtocol}))
	default:
		return invalid(field.NotSupported(path.Child("protocol"), f.ExternalAuthProtocol,
			[]gatewayv1.HTTPRouteExternalAuthProtocol{gatewayv1.HTTPRouteExternalAuthHTTPProtocol}))
	}
	if f.GRPCAuthConfig != nil {
		return invalid(field.Invalid(path.Child("grpc"), "", "protocol must be 'GRPC' when grpc is set"))
	}
	a := &extAuth{logger: rc.c.env.logger}
	if hc := f.HTTPAuthConfig; hc != nil {
		hp := path.Child("http")
		if hc.Path != "" {
			p, msg := sanitizeAuthPath(hc.Path)
			if msg != "" {
				return invalid(field.Invalid(hp.Child("path"), hc.Path, msg))
			}
			a.prefix = p
		}
		for i, h := range hc.AllowedRequestHeaders {
			if !validHeaderName(h) {
				return invalid(field.Invalid(hp.Child("allowedHeaders").Index(i), h, "must be a valid HTTP header name"))
			}
			a.reqHeaders = append(a.reqHeaders, textproto.CanonicalMIMEHeaderKey(h))
		}
		for i, h := range hc.AllowedResponseHeaders {
			if !validHeaderName(h) {
				return invalid(field.Invalid(hp.Child("allowedResponseHeaders").Index(i), h, "must be a valid HTTP header name"))
			}
			a.respHeaders = append(a.respHeaders, textproto.CanonicalMIMEHeaderKey(h))
		}
	}
	if f.ForwardBody != nil {
		a.maxBody = int64(f.ForwardBody.MaxSize)
	}

	ref := rc.backendRef(&f.BackendRef)
	b, err := rc.resolveBackend(ref, path.Child("backendRef"))
	if err != nil {
		h := errorHandler{fmt.Errorf("%w: %s", ErrInvalidRule, err.Field.Error())}
		return func(http.Handler) http.Handler { return h }, nil
	}
	a.name = ref.String()
	a.backend = b
	a.host = ref.Name + "." + ref.Namespace
	if ref.Port != 0 {
		a.host += ":" + strconv.Itoa(int(ref.Port))
	}
	return a.middleware, nil
}

// sanitizeAuthPath checks an http.path prefix and returns it with a
// leading "/" and without a trailing one, or why it is refused.
func sanitizeAuthPath(p string) (string, string) {
	if !extAuthPathRE.MatchString(p) {
		return "", "must consist of path characters or %-escapes"
	}
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	for _, seg := range strings.Split(p, "/") {
		if u, err := url.PathUnescape(seg); err == nil && (u == "." || u == "..") {
			return "", "must not contain '.' or '..' segments"
		}
	}
	return strings.TrimRight(p, "/"), ""
}

func (a *extAuth) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r2, ok := a.check(w, r)
		if ok {
			next.ServeHTTP(w, r2)
		}
	})
}

// check asks the authorization backend about r. It returns the request to
// pass on and true, or answers the client itself and returns false.
func (a *extAuth) check(w http.ResponseWriter, r *http.Request) (*http.Request, bool) {
	r2 := new(http.Request)
	*r2 = *r
	hdr, owned := a.withoutAnswerFields(r.Header)
	body := io.Reader(http.NoBody)
	var n int64
	if a.maxBody > 0 && r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
		if r.ContentLength > a.maxBody {
			a.deny(w, r, http.StatusRequestEntityTooLarge)
			return nil, false
		}
		buf, err := io.ReadAll(io.LimitReader(r.Body, a.maxBody+1))
		switch {
		case err != nil:
			a.fail(w, r, fmt.Errorf("reading the request body: %w", err))
			return nil, false
		case int64(len(buf)) > a.maxBody:
			a.deny(w, r, http.StatusRequestEntityTooLarge)
			return nil, false
		}
		body, n = bytes.NewReader(buf), int64(len(buf))
		r2.Body = readCloser{bytes.NewReader(buf), r.Body}
		r2.ContentLength = n
	}

	ctx, cancel := context.WithTimeout(statelessContext{r.Context()}, extAuthTimeout)
	defer cancel()
	u := &url.URL{Scheme: "http", Host: a.host, RawQuery: r.URL.RawQuery}
	setEscapedPath(u, a.prefix+r.URL.EscapedPath())
	areq, err := http.NewRequestWithContext(ctx, r.Method, u.String(), body)
	if err != nil {
		a.fail(w, r, err)
		return nil, false
	}
	areq.ContentLength = n
	if n == 0 {
		areq.Body, areq.GetBody = http.NoBody, nil
	}
	areq.Host = r.Host
	if v := hdr.Values("Authorization"); len(v) > 0 {
		areq.Header["Authorization"] = slices.Clone(v)
	}
	for _, name := range a.reqHeaders {
		if v := hdr.Values(name); len(v) > 0 {
			areq.Header[name] = slices.Clone(v)
		}
	}

	res, err := a.backend.RoundTrip(areq)
	if err != nil {
		if r.Context().Err() != nil && errors.Is(err, r.Context().Err()) {
			return nil, false // the client went away
		}
		a.fail(w, r, err)
		return nil, false
	}
	defer res.Body.Close()
	switch {
	case res.StatusCode == http.StatusOK:
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
		if !owned {
			hdr = hdr.Clone()
		}
		if hdr == nil {
			hdr = http.Header{}
		}
		a.copyAllowed(hdr, res.Header)
		r2.Header = hdr
		return r2, true
	case res.StatusCode > 200 && res.StatusCode < 600:
		h := w.Header()
		for k, v := range res.Header {
			h[k] = v
		}
		for k := range h {
			if hopField(k) {
				delete(h, k)
			}
		}
		delete(h, "Content-Length")
		w.WriteHeader(res.StatusCode)
		_, _ = io.Copy(w, res.Body)
		return nil, false
	default:
		a.fail(w, r, fmt.Errorf("unexpected status %d", res.StatusCode))
		return nil, false
	}
}

// withoutAnswerFields returns h without the client's fields that only the
// auth answer may set (allowedResponseHeaders, see sameFieldName), and
// whether the result is a copy.
func (a *extAuth) withoutAnswerFields(h http.Header) (http.Header, bool) {
	owned := false
	for k := range h {
		for _, name := range a.respHeaders {
			if sameFieldName(k, name) {
				if !owned {
					h, owned = h.Clone(), true
				}
				delete(h, k)
				break
			}
		}
	}
	return h, owned
}

// sameFieldName reports whether the header names a and b are equal
// without regard to case or to "_" against "-".
func sameFieldName(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == '_' {
			x = '-'
		}
		if y == '_' {
			y = '-'
		}
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

// copyAllowed sets on the request headers h the allowed headers of the
// authorization answer ah.
func (a *extAuth) copyAllowed(h, ah http.Header) {
	if a.respHeaders == nil {
		for k, v := range ah {
			if !extAuthNotCopied(k) {
				h[k] = slices.Clone(v)
			}
		}
		return
	}
	for _, k := range a.respHeaders {
		if v, ok := ah[k]; ok {
			h[k] = slices.Clone(v)
		}
	}
}

// deny answers the client with code, logging nothing: the request was
// refused, not the filter broken.
func (a *extAuth) deny(w http.ResponseWriter, _ *http.Request, code int) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, http.StatusText(code)+"\n")
}

// fail closes the door: the authorization could not be obtained.
func (a *extAuth) fail(w http.ResponseWriter, r *http.Request, err error) {
	a.logger.Warn("external auth failed", "backend", a.name, "path", r.URL.Path, "error", err)
	writeError(w, fmt.Errorf("%w: external auth %s: %w", ErrNoEndpoint, a.name, err))
}

// readCloser reads from r and closes c.
type readCloser struct {
	io.Reader
	c io.Closer
}

func (rc readCloser) Close() error { return rc.c.Close() }

package httproute

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// A Filter is an ExtensionRef filter, built by an Extension from the object
// it references when a Config is compiled.
type Filter interface {
	// Wrap returns the handler that applies the filter to a request and
	// then calls next, or answers the request itself. It is called once
	// per rule (or backendRef) at compile time, never per request.
	Wrap(next http.Handler) http.Handler
}

// FilterFunc adapts a middleware function to a Filter.
type FilterFunc func(next http.Handler) http.Handler

// Wrap calls f.
func (f FilterFunc) Wrap(next http.Handler) http.Handler { return f(next) }

// middleware is one compiled filter.
type middleware func(next http.Handler) http.Handler

// chain applies filters in list order: the first filter sees the request
// first.
func chain(filters []middleware, h http.Handler) http.Handler {
	for i := len(filters) - 1; i >= 0; i-- {
		h = filters[i](h)
	}
	return h
}

// singleUse are the filter types that may appear once per list.
var singleUse = map[gatewayv1.HTTPRouteFilterType]bool{
	gatewayv1.HTTPRouteFilterRequestHeaderModifier:  true,
	gatewayv1.HTTPRouteFilterResponseHeaderModifier: true,
	gatewayv1.HTTPRouteFilterRequestRedirect:        true,
	gatewayv1.HTTPRouteFilterURLRewrite:             true,
	gatewayv1.HTTPRouteFilterCORS:                   true,
	gatewayv1.HTTPRouteFilterExternalAuth:           true,
}

// supportedFilterTypes are the filter types the Router implements, in the
// order Unsupported value errors list them.
var supportedFilterTypes = []gatewayv1.HTTPRouteFilterType{
	gatewayv1.HTTPRouteFilterRequestHeaderModifier,
	gatewayv1.HTTPRouteFilterResponseHeaderModifier,
	gatewayv1.HTTPRouteFilterRequestMirror,
	gatewayv1.HTTPRouteFilterRequestRedirect,
	gatewayv1.HTTPRouteFilterURLRewrite,
	gatewayv1.HTTPRouteFilterExtensionRef,
	gatewayv1.HTTPRouteFilterCORS,
	gatewayv1.HTTPRouteFilterExternalAuth,
}

// filters compiles a list of filters, at rule level or backendRef level.
// noRedirect reports whether a RequestRedirect is forbidden: at rule level
// when the rule has backendRefs. Combinations the spec forbids make the
// whole rule invalid with reason IncompatibleFilters.
func (rc *ruleCompiler) filters(list []gatewayv1.HTTPRouteFilter, path *field.Path, noRedirect bool) ([]middleware, *Error) {
	if len(list) == 0 {
		return nil, nil
	}
	seen := map[gatewayv1.HTTPRouteFilterType]int{}
	for i, f := range list {
		if j, dup := seen[f.Type]; dup && singleUse[f.Type] {
			return nil, rc.c.routeError(rc.route, reasonIncompatibleFilters, field.Invalid(path.Index(i).Child("type"), f.Type,
				fmt.Sprintf("%s filter cannot be repeated (also at index %d)", f.Type, j)))
		}
		seen[f.Type] = i
	}
	_, redirect := seen[gatewayv1.HTTPRouteFilterRequestRedirect]
	if _, rewrite := seen[gatewayv1.HTTPRouteFilterURLRewrite]; redirect && rewrite {
		return nil, rc.c.routeError(rc.route, reasonIncompatibleFilters, field.Invalid(path, "RequestRedirect, URLRewrite",
			"May specify either httpRouteFilterRequestRedirect or httpRouteFilterRequestRewrite, but not both"))
	}
	if redirect && noRedirect {
		return nil, rc.c.routeError(rc.route, reasonIncompatibleFilters, field.Invalid(rc.path, "RequestRedirect",
			"RequestRedirect filter must not be used together with backendRefs"))
	}
	var out []middleware
	for i := range list {
		mw, err := rc.filter(&list[i], path.Index(i))
		if err != nil {
			return nil, err
		}
		out = append(out, mw)
	}
	return out, nil
}

// filter compiles one filter.
func (rc *ruleCompiler) filter(f *gatewayv1.HTTPRouteFilter, path *field.Path) (middleware, *Error) {
	if msg := filterFieldMismatch(f); msg != "" {
		return nil, rc.c.routeError(rc.route, reasonUnsupportedValue, field.Invalid(path, f.Type, msg))
	}
	switch f.Type {
	case gatewayv1.HTTPRouteFilterRequestHeaderModifier:
		m, fe := compileHeaderMod(f.RequestHeaderModifier, path.Child("requestHeaderModifier"))
		if fe != nil {
			return nil, rc.c.routeError(rc.route, reasonUnsupportedValue, fe)
		}
		return m.requestMiddleware, nil
	case gatewayv1.HTTPRouteFilterResponseHeaderModifier:
		m, fe := compileHeaderMod(f.ResponseHeaderModifier, path.Child("responseHeaderModifier"))
		if fe != nil {
			return nil, rc.c.routeError(rc.route, reasonUnsupportedValue, fe)
		}
		return m.responseMiddleware, nil
	case gatewayv1.HTTPRouteFilterRequestRedirect:
		rd, fe := rc.compileRedirect(f.RequestRedirect, path.Child("requestRedirect"))
		if fe != nil {
			return nil, rc.c.routeError(rc.route, reasonUnsupportedValue, fe)
		}
		return func(http.Handler) http.Handler { return rd }, nil
	case gatewayv1.HTTPRouteFilterURLRewrite:
		rw, fe := rc.compileRewrite(f.URLRewrite, path.Child("urlRewrite"))
		if fe != nil {
			return nil, rc.c.routeError(rc.route, reasonUnsupportedValue, fe)
		}
		return rw.middleware, nil
	case gatewayv1.HTTPRouteFilterExtensionRef:
		return rc.extensionFilter(f.ExtensionRef, path.Child("extensionRef")), nil
	case gatewayv1.HTTPRouteFilterRequestMirror:
		return rc.compileMirror(f.RequestMirror, path.Child("requestMirror"))
	case gatewayv1.HTTPRouteFilterCORS:
		c, fe := compileCORS(f.CORS, path.Child("cors"))
		if fe != nil {
			return nil, rc.c.routeError(rc.route, reasonUnsupportedValue, fe)
		}
		return c.middleware, nil
	case gatewayv1.HTTPRouteFilterExternalAuth:
		return rc.compileExtAuth(f.ExternalAuth, path.Child("externalAuth"))
	default:
		return nil, rc.c.routeError(rc.route, reasonUnsupportedValue, field.NotSupported(path.Child("type"), f.Type, supportedFilterTypes))
	}
}

// filterFieldMismatch returns the CRD's message when the filter's type and
// its configuration field disagree, or "".
func filterFieldMismatch(f *gatewayv1.HTTPRouteFilter) string {
	fields := []struct {
		typ gatewayv1.HTTPRouteFilterType
		set bool
		js  string
	}{
		{gatewayv1.HTTPRouteFilterCORS, f.CORS != nil, "cors"},
		{gatewayv1.HTTPRouteFilterRequestHeaderModifier, f.RequestHeaderModifier != nil, "requestHeaderModifier"},
		{gatewayv1.HTTPRouteFilterResponseHeaderModifier, f.ResponseHeaderModifier != nil, "responseHeaderModifier"},
		{gatewayv1.HTTPRouteFilterRequestMirror, f.RequestMirror != nil, "requestMirror"},
		{gatewayv1.HTTPRouteFilterRequestRedirect, f.RequestRedirect != nil, "requestRedirect"},
		{gatewayv1.HTTPRouteFilterURLRewrite, f.URLRewrite != nil, "urlRewrite"},
		{gatewayv1.HTTPRouteFilterExternalAuth, f.ExternalAuth != nil, "externalAuth"},
		{gatewayv1.HTTPRouteFilterExtensionRef, f.ExtensionRef != nil, "extensionRef"},
	}
	for _, x := range fields {
		if x.set && f.Type != x.typ {
			return fmt.Sprintf("filter.%s must be nil if the filter.type is not %s", x.js, x.typ)
		}
		if !x.set && f.Type == x.typ {
			return fmt.Sprintf("filter.%s must be specified for %s filter.type", x.js, x.typ)
		}
	}
	return ""
}

// headerMod is a compiled HTTPHeaderFilter: set, then add, then remove.
type headerMod struct {
	set    []headerKV
	add    []headerKV
	remove []string
}

type headerKV struct{ name, value string }

func compileHeaderMod(f *gatewayv1.HTTPHeaderFilter, path *field.Path) (*headerMod, *field.Error) {
	m := &headerMod{}
	// The spec allows one action per header name, names compared without
	// case: a second action on a name makes the filter invalid.
	seen := map[string]bool{}
	check := func(p *field.Path, name string) (string, *field.Error) {
		if !validHeaderName(name) {
			return "", field.Invalid(p, name, "must be a valid HTTP header name")
		}
		canon := textproto.CanonicalMIMEHeaderKey(name)
		if seen[canon] {
			return "", field.Invalid(p, name, "only one action per header name is permitted (names are case-insensitive)")
		}
		seen[canon] = true
		return canon, nil
	}
	kvs := func(list []gatewayv1.HTTPHeader, child string) ([]headerKV, *field.Error) {
		var out []headerKV
		for i, h := range list {
			p := path.Child(child).Index(i)
			name, fe := check(p.Child("name"), string(h.Name))
			if fe != nil {
				return nil, fe
			}
			if !validHeaderValue(h.Value) {
				return nil, field.Invalid(p.Child("value"), h.Value, headerValueMsg)
			}
			out = append(out, headerKV{name, h.Value})
		}
		return out, nil
	}
	var fe *field.Error
	if m.set, fe = kvs(f.Set, "set"); fe != nil {
		return nil, fe
	}
	if m.add, fe = kvs(f.Add, "add"); fe != nil {
		return nil, fe
	}
	for i, name := range f.Remove {
		canon, fe := check(path.Child("remove").Index(i), name)
		if fe != nil {
			return nil, fe
		}
		m.remove = append(m.remove, canon)
	}
	return m, nil
}

const headerValueMsg = "must not contain control characters other than horizontal tab"

// validHeaderValue reports whether v can be written as a header value:
// no control character but horizontal tab (RFC 9110 field-value), so that
// no value can smuggle a line break into a message.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// apply modifies h in place.
func (m *headerMod) apply(h http.Header) {
	for _, kv := range m.set {
		h[kv.name] = []string{kv.value}
	}
	for _, kv := range m.add {
		h[kv.name] = append(h[kv.name], kv.value)
	}
	for _, name := range m.remove {
		delete(h, name)
	}
}

// requestMiddleware modifies the headers of the request passed on. The
// request's header map is copied first: the caller's request is not
// modified.
func (m *headerMod) requestMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r2 := new(http.Request)
		*r2 = *r
		r2.Header = r.Header.Clone()
		if r2.Header == nil {
			r2.Header = http.Header{}
		}
		if _, ok := r2.Header["Host"]; ok || hasHeaderKV(m, "Host") {
			// Host lives in Request.Host, not in the header map.
			m.apply(r2.Header)
			if v := r2.Header.Get("Host"); v != "" {
				r2.Host = v
			}
			delete(r2.Header, "Host")
		} else {
			m.apply(r2.Header)
		}
		next.ServeHTTP(w, r2)
	})
}

func hasHeaderKV(m *headerMod, name string) bool {
	for _, kv := range m.set {
		if kv.name == name {
			return true
		}
	}
	for _, kv := range m.add {
		if kv.name == name {
			return true
		}
	}
	return false
}

// responseMiddleware modifies the headers of the response when the
// backend writes them.
func (m *headerMod) responseMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hw := &headerWriter{ResponseWriter: w, before: m.apply}
		next.ServeHTTP(hw, r)
		hw.finish()
	})
}

// headerWriter calls before on the response headers just before they are
// written, once, for the final (non-1xx) response or a 101 answer sent
// over a hijacked connection.
type headerWriter struct {
	http.ResponseWriter
	before func(http.Header)
	done   bool
}

func (w *headerWriter) WriteHeader(code int) {
	if !w.done && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.done = true
		w.before(w.ResponseWriter.Header())
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *headerWriter) Write(p []byte) (int, error) {
	if !w.done {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

// finish writes the implicit 200 of a handler that wrote nothing, so that
// the modification applies to empty answers too.
func (w *headerWriter) finish() {
	if !w.done {
		w.WriteHeader(http.StatusOK)
	}
}

// Unwrap lets http.NewResponseController reach the writer's other methods.
func (w *headerWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush sends the headers (with the modification) and flushes.
func (w *headerWriter) Flush() {
	if !w.done {
		w.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack applies the modification to the headers that the hijacker is
// about to write itself (httputil.ReverseProxy does so for a 101 answer)
// and hands over the connection.
func (w *headerWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if !w.done {
		w.done = true
		w.before(w.ResponseWriter.Header())
	}
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// pathModifier is a compiled HTTPPathModifier.
type pathModifier struct {
	full    *string // ReplaceFullPath
	prefix  *string // ReplacePrefixMatch
	trimmed string  // prefix without trailing "/"
}

func (rc *ruleCompiler) compilePathModifier(p *gatewayv1.HTTPPathModifier, path *field.Path) (*pathModifier, *field.Error) {
	if p == nil {
		return nil, nil
	}
	switch p.Type {
	case gatewayv1.FullPathHTTPPathModifier:
		if p.ReplaceFullPath == nil {
			return nil, field.Required(path.Child("replaceFullPath"), "replaceFullPath must be specified when type is set to 'ReplaceFullPath'")
		}
		// Replacements are normalized like request paths (CleanPath), so
		// that a path built from one and a normal request path is normal.
		full := cleanPath(*p.ReplaceFullPath)
		return &pathModifier{full: &full}, nil
	case gatewayv1.PrefixMatchHTTPPathModifier:
		if p.ReplacePrefixMatch == nil {
			return nil, field.Required(path.Child("replacePrefixMatch"), "replacePrefixMatch must be specified when type is set to 'ReplacePrefixMatch'")
		}
		for _, m := range rc.rule.matches {
			if m.kind != pathPrefix {
				return nil, field.Invalid(path.Child("replacePrefixMatch"), *p.ReplacePrefixMatch,
					"ReplacePrefixMatch is only compatible with a PathPrefix match")
			}
		}
		prefix := cleanPath(*p.ReplacePrefixMatch)
		return &pathModifier{prefix: &prefix, trimmed: strings.TrimRight(prefix, "/")}, nil
	default:
		return nil, field.NotSupported(path.Child("type"), p.Type,
			[]gatewayv1.HTTPPathModifierType{gatewayv1.FullPathHTTPPathModifier, gatewayv1.PrefixMatchHTTPPathModifier})
	}
}

// apply returns the new escaped path for a request whose escaped path is
// p, matched by m. The result always starts with "/", and never has "//"
// where the prefix and the rest of the path meet.
func (pm *pathModifier) apply(p string, m *routeMatch) string {
	if pm.full != nil {
		return *pm.full
	}
	if m == nil || m.kind != pathPrefix || !hasPathPrefix(p, m.path) {
		// An earlier filter moved the path out of the matched prefix:
		// there is no prefix left to replace.
		return p
	}
	out := pm.trimmed + p[len(m.path):]
	if out == "" || out[0] != '/' {
		out = "/" + out
	}
	return out
}

// hasPathPrefix reports whether the path p is in the subtree of prefix, a
// PathPrefix value without its trailing "/" ("" for "/"): p equals prefix
// or continues it with "/".
func hasPathPrefix(p, prefix string) bool {
	return strings.HasPrefix(p, prefix) && (len(p) == len(prefix) || p[len(prefix)] == '/')
}

// redirect is a compiled HTTPRequestRedirectFilter; it answers every
// request it sees.
type redirect struct {
	scheme   string
	hostname string
	port     int32
	path     *pathModifier
	code     int
}

func (rc *ruleCompiler) compileRedirect(f *gatewayv1.HTTPRequestRedirectFilter, path *field.Path) (*redirect, *field.Error) {
	rd := &redirect{code: http.StatusFound}
	if f.Scheme != nil {
		switch *f.Scheme {
		case "http", "https":
			rd.scheme = *f.Scheme
		default:
			return nil, field.NotSupported(path.Child("scheme"), *f.Scheme, []string{"http", "https"})
		}
	}
	if f.Hostname != nil {
		rd.hostname = string(*f.Hostname)
	}
	if f.Port != nil {
		if *f.Port < 1 || *f.Port > 65535 {
			return nil, field.Invalid(path.Child("port"), *f.Port, "must be between 1 and 65535")
		}
		rd.port = *f.Port
	}
	if f.StatusCode != nil {
		switch *f.StatusCode {
		case 301, 302, 303, 307, 308:
			rd.code = *f.StatusCode
		default:
			return nil, field.NotSupported(path.Child("statusCode"), *f.StatusCode, []string{"301", "302", "303", "307", "308"})
		}
	}
	pm, fe := rc.compilePathModifier(f.Path, path.Child("path"))
	if fe != nil {
		return nil, fe
	}
	rd.path = pm
	return rd, nil
}

func (rd *redirect) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	st := stateFrom(r.Context())
	reqScheme := "http"
	if r.TLS != nil {
		reqScheme = "https"
	}
	scheme := rd.scheme
	if scheme == "" {
		scheme = reqScheme
	}
	host := rd.hostname
	if host == "" {
		host = requestHostKeepCase(r.Host)
	}
	if host == "" {
		// An http(s) URI must have a host (RFC 9110 section 4.2.1):
		// "https:///evil.com/x" is read by browsers as another site.
		writeStatus(w, http.StatusBadRequest)
		return
	}
	var port int32
	switch {
	case rd.port != 0:
		port = rd.port
	case rd.scheme == "http":
		port = 80
	case rd.scheme == "https":
		port = 443
	default:
		port = listenerPort(r, st)
	}
	loc := &url.URL{Scheme: scheme, Host: host}
	if !(scheme == "http" && port == 80) && !(scheme == "https" && port == 443) && port != 0 {
		loc.Host = net.JoinHostPort(strings.Trim(host, "[]"), strconv.Itoa(int(port)))
	}
	p := r.URL.EscapedPath()
	if rd.path != nil {
		var m *routeMatch
		if st != nil && st.cand != nil {
			m = st.cand.match
		}
		p = rd.path.apply(p, m)
	}
	setEscapedPath(loc, p)
	loc.RawQuery = r.URL.RawQuery
	w.Header().Set("Location", loc.String())
	w.WriteHeader(rd.code)
}

// listenerPort is the port of the listener a request arrived on. The
// implicit listener of a Config without Gateways has no port of its own:
// the port the client addressed (the one in Host, else the default port of
// its scheme) stands for it, which is right even behind port mapping.
func listenerPort(r *http.Request, st *requestState) int32 {
	if st != nil && st.cand != nil && st.cand.port != 0 {
		return st.cand.port
	}
	if _, ps, err := net.SplitHostPort(r.Host); err == nil {
		if p, err := strconv.Atoi(ps); err == nil && p > 0 && p < 65536 {
			return int32(p)
		}
	}
	if r.TLS != nil {
		return 443
	}
	return 80
}

// requestHostKeepCase returns the host of a Host header without its port.
func requestHostKeepCase(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		if strings.Contains(host, ":") {
			return "[" + host + "]"
		}
		return host
	}
	return h
}

// setEscapedPath sets the path of u from an escaped path, as url.Parse
// would: Path decoded, RawPath set only when the escaping is not the one
// url.URL.EscapedPath would produce from Path.
func setEscapedPath(u *url.URL, escaped string) {
	if p, err := url.PathUnescape(escaped); err == nil {
		u.Path = p
		if defaultEncoded(escaped) {
			u.RawPath = ""
		} else {
			u.RawPath = escaped
		}
		return
	}
	u.Path, u.RawPath = escaped, ""
}

// defaultEncoded reports whether escaped is exactly how url.URL escapes
// its decoded form: every escape is upper-case and stands for a byte
// url.URL escapes, and no raw byte is one it would escape. It does not
// allocate.
func defaultEncoded(escaped string) bool {
	for i := 0; i < len(escaped); i++ {
		c := escaped[i]
		if c == '%' {
			if d, ok := escapeAt(escaped, i); !ok || !upperEscape(escaped, i) || !urlEscapes(d) {
				return false
			}
			i += 2
			continue
		}
		if urlEscapes(c) {
			return false
		}
	}
	return true
}

// urlEscapes reports whether url.URL.EscapedPath escapes the byte c of a
// path.
func urlEscapes(c byte) bool {
	if isUnreserved(c) {
		return false
	}
	return strings.IndexByte("$&+,/:;=@", c) < 0
}

// rewrite is a compiled HTTPURLRewriteFilter.
type rewrite struct {
	hostname string
	path     *pathModifier
}

func (rc *ruleCompiler) compileRewrite(f *gatewayv1.HTTPURLRewriteFilter, path *field.Path) (*rewrite, *field.Error) {
	rw := &rewrite{}
	if f.Hostname != nil {
		rw.hostname = string(*f.Hostname)
	}
	pm, fe := rc.compilePathModifier(f.Path, path.Child("path"))
	if fe != nil {
		return nil, fe
	}
	rw.path = pm
	return rw, nil
}

func (rw *rewrite) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r2 := new(http.Request)
		*r2 = *r
		if rw.hostname != "" {
			r2.Host = rw.hostname
		}
		if rw.path != nil {
			st := stateFrom(r.Context())
			p := r.URL.EscapedPath()
			var m *routeMatch
			if st != nil && st.cand != nil {
				m = st.cand.match
			}
			u := *r.URL
			setEscapedPath(&u, rw.path.apply(p, m))
			r2.URL = &u
		}
		next.ServeHTTP(w, r2)
	})
}

// extensionFilter resolves an ExtensionRef. A reference that cannot be
// resolved is never skipped: the requests it would have filtered answer
// 500, and the route reports ResolvedRefs False.
func (rc *ruleCompiler) extensionFilter(ref *gatewayv1.LocalObjectReference, path *field.Path) middleware {
	gk := schema.GroupKind{Group: string(ref.Group), Kind: string(ref.Kind)}
	fail := func(reason string, fe *field.Error) middleware {
		e := rc.refError(reason, fe)
		h := errorHandler{fmt.Errorf("%w: %s", ErrInvalidRule, e.Field.Error())}
		return func(http.Handler) http.Handler { return h }
	}
	ext := rc.c.extensions[gk]
	if ext == nil || ext.Filter == nil {
		return fail(reasonInvalidKind, field.NotSupported(path.Child("kind"), ref.Kind, rc.c.filterKinds()))
	}
	oref := ObjectRef{Group: gk.Group, Kind: gk.Kind, Namespace: rc.route.namespace, Name: string(ref.Name)}
	oref.Object = rc.c.objects[objectKey{gk.Group, gk.Kind, oref.Namespace, oref.Name}]
	rc.c.recordObject(gk, oref.Namespace, oref.Name, oref.Object)
	oref.Secret = rc.c.secretLookup(gk.Group, gk.Kind, oref.Namespace)
	if ext.New != nil && oref.Object == nil {
		return fail(reasonBackendNotFound, field.NotFound(path.Child("name"), string(ref.Name)))
	}
	f, err := safeBuildFilter(ext, oref)
	rc.c.closers.add(f)
	if err != nil {
		return fail(reasonUnsupportedValue, field.Invalid(path.Child("name"), string(ref.Name), err.Error()))
	}
	logger := rc.c.env.logger
	return func(next http.Handler) http.Handler {
		h, err := safeWrap(f, next)
		if err != nil {
			e := rc.refError(reasonUnsupportedValue, field.Invalid(path.Child("name"), string(ref.Name), err.Error()))
			return errorHandler{fmt.Errorf("%w: %s", ErrInvalidRule, e.Field.Error())}
		}
		return recoverHandler(h, logger, gk.String()+" "+oref.Namespace+"/"+oref.Name)
	}
}

// filterKinds lists the kinds that ExtensionRef filters may reference, in
// order, for error messages.
func (c *compiler) filterKinds() []string {
	var out []string
	for gk, e := range c.extensions {
		if e.Filter != nil {
			out = append(out, gk.String())
		}
	}
	slices.Sort(out)
	return out
}

// safeBuildFilter calls the extension's filter constructor, turning a
// panic into an error.
func safeBuildFilter(ext *Extension, ref ObjectRef) (f Filter, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("filter constructor panicked: %v", p)
		}
	}()
	f, err = ext.Filter(ref)
	if err == nil && f == nil {
		err = fmt.Errorf("filter constructor returned no filter")
	}
	return f, err
}

func safeWrap(f Filter, next http.Handler) (h http.Handler, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("filter Wrap panicked: %v", p)
		}
	}()
	h = f.Wrap(next)
	if h == nil {
		err = fmt.Errorf("filter Wrap returned no handler")
	}
	return h, err
}

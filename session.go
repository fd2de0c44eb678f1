package httproute

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/httproute/httproute/internal/duration"
)

// DefaultSessionName is the cookie name of a cookie-based session when
// sessionPersistence does not set cookie.name.
const DefaultSessionName = "httproute-session"

// maxSessionPins bounds the backendRefs a session value remembers an
// endpoint for, and so the size of the value a client sends back.
const maxSessionPins = 16

// sessionPolicy is a compiled SessionPersistence.
//
// Under Gateway API v1.7 (GEP-1619) session persistence operates after
// backend selection: the weighted split chooses the backendRef of every
// request, and the session pins the client to one endpoint inside
// whichever backendRef was chosen. It never overrides the split and never
// affects matching. A session value therefore remembers one endpoint per
// backendRef it has been sent to (at most maxSessionPins), so a client
// that the weights send to two backendRefs in turn keeps the same
// endpoint in each.
//
// The value is "payload.mac": the payload names the rule, the expiry and
// the pins (backendRef index and an opaque id of the endpoint: a hash, so
// endpoint addresses are not disclosed); the mac is an HMAC-SHA256 of the
// payload with the Router's session key (Config.SessionKey). It is signed
// so that a client cannot steer its requests to an endpoint of its
// choosing nor extend its session past absoluteTimeout. A value that is
// tampered with, signed with another key, made for another rule or
// expired is ignored: the request is balanced normally and gets a new
// session. A pinned endpoint that is ejected or gone is replaced by the
// balancer's choice and the session re-pinned to it. Backends without
// endpoints of their own (in-process handlers, Lambda functions) have
// nothing to pin: their requests carry no session.
type sessionPolicy struct {
	header    bool // Header type; Cookie otherwise
	name      string
	path      string // cookie Path attribute
	permanent bool
	absolute  time.Duration
	key       []byte
	rule      string // "namespace/name/index"
}

// sessionPin is the endpoint a session remembers for one backendRef.
type sessionPin struct {
	index    int
	endpoint string
}

// sessionValue is a verified session.
type sessionValue struct {
	expiry int64 // unix seconds, 0 for none
	pins   []sessionPin
}

// pinFor returns the endpoint the session remembers for backendRef index,
// "" when none.
func (v *sessionValue) pinFor(index int) string {
	if v == nil {
		return ""
	}
	for _, p := range v.pins {
		if p.index == index {
			return p.endpoint
		}
	}
	return ""
}

// with returns the pins of v with backendRef index pinned to endpoint.
func (v *sessionValue) with(index int, endpoint string) []sessionPin {
	pins := []sessionPin{{index: index, endpoint: endpoint}}
	if v != nil {
		for _, p := range v.pins {
			if p.index != index && len(pins) < maxSessionPins {
				pins = append(pins, p)
			}
		}
	}
	return pins
}

func (rc *ruleCompiler) compileSession(sp *gatewayv1.SessionPersistence, path *field.Path) (*sessionPolicy, *field.Error) {
	return compileSessionPolicy(sp, path, rc.c.sessionKey, rc.route.namespace+"/"+rc.route.name+"/"+strconv.Itoa(rc.rule.index))
}

// compileSessionPolicy compiles a SessionPersistence found at path; rule
// names where its values are valid (a rule, or a backend object).
func compileSessionPolicy(sp *gatewayv1.SessionPersistence, path *field.Path, key []byte, rule string) (*sessionPolicy, *field.Error) {
	p := &sessionPolicy{name: DefaultSessionName, path: "/", key: key, rule: rule}
	typ := gatewayv1.CookieBasedSessionPersistence
	if sp.Type != nil {
		typ = *sp.Type
	}
	switch typ {
	case gatewayv1.CookieBasedSessionPersistence:
		if sp.Header != nil {
			return nil, field.Invalid(path, "", "header must be nil if type is not Header")
		}
		if c := sp.Cookie; c != nil {
			if c.Name != nil {
				p.name = string(*c.Name)
				if !validCookieName(p.name) {
					return nil, field.Invalid(path.Child("cookie", "name"), p.name, "must be a valid cookie name")
				}
			}
			if c.Path != nil {
				p.path = *c.Path
				if !validCookiePath(p.path) {
					return nil, field.Invalid(path.Child("cookie", "path"), p.path, "must be a cookie path: printable ASCII without ';', at most 1024 characters")
				}
			}
		}
	case gatewayv1.HeaderBasedSessionPersistence:
		p.header = true
		if sp.Cookie != nil {
			return nil, field.Invalid(path, "", "cookie must be nil if type is not Cookie")
		}
		if sp.Header == nil {
			return nil, field.Required(path.Child("header"), "header must be specified for Header type")
		}
		p.name = string(sp.Header.Name)
		if !validHeaderName(p.name) {
			return nil, field.Invalid(path.Child("header", "name"), p.name, "must be a valid HTTP header name")
		}
	default:
		return nil, field.NotSupported(path.Child("type"), typ, []gatewayv1.SessionPersistenceType{
			gatewayv1.CookieBasedSessionPersistence, gatewayv1.HeaderBasedSessionPersistence})
	}
	if sp.AbsoluteTimeout != nil {
		d, err := duration.Parse(string(*sp.AbsoluteTimeout))
		if err != nil {
			return nil, field.Invalid(path.Child("absoluteTimeout"), *sp.AbsoluteTimeout, err.Error())
		}
		p.absolute = d
	}
	if cc := sp.Cookie; cc != nil && cc.LifetimeType != nil {
		switch *cc.LifetimeType {
		case gatewayv1.SessionCookieLifetimeType:
		case gatewayv1.PermanentCookieLifetimeType:
			if p.absolute == 0 {
				return nil, field.Required(path.Child("absoluteTimeout"), "AbsoluteTimeout must be specified when cookie lifetimeType is Permanent")
			}
			p.permanent = true
		default:
			return nil, field.NotSupported(path.Child("cookie", "lifetimeType"), *cc.LifetimeType,
				[]gatewayv1.CookieLifetimeType{gatewayv1.SessionCookieLifetimeType, gatewayv1.PermanentCookieLifetimeType})
		}
	}
	return p, nil
}

func validCookieName(s string) bool {
	return validHeaderName(s) // a cookie name is an RFC 7230 token too
}

// validCookiePath reports whether s can be a cookie's Path attribute
// (RFC 6265 §4.1.1: any CHAR except CTLs or ";").
func validCookiePath(s string) bool {
	if s == "" || len(s) > 1024 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == ';' {
			return false
		}
	}
	return true
}

// resume returns the session the request carries, or nil when it carries
// none that is valid.
func (p *sessionPolicy) resume(r *http.Request, now time.Time) *sessionValue {
	var raw string
	if p.header {
		raw = r.Header.Get(p.name)
	} else if c, err := r.Cookie(p.name); err == nil {
		raw = c.Value
	}
	if raw == "" {
		return nil
	}
	v, ok := p.verify(raw)
	if !ok || (v.expiry != 0 && now.Unix() >= v.expiry) {
		return nil
	}
	return v
}

// issue adds the session to the response headers when the request's
// session does not already pin backendRef index to endpoint. endpoint is
// "" when the backend has no endpoint to pin.
func (p *sessionPolicy) issue(h http.Header, r *http.Request, index int, endpoint string, prev *sessionValue, now time.Time) {
	if endpoint == "" || prev.pinFor(index) == endpoint {
		return
	}
	v := sessionValue{pins: prev.with(index, endpoint)}
	switch {
	case prev != nil:
		v.expiry = prev.expiry // a re-pinned session keeps its lifetime
	case p.absolute > 0:
		v.expiry = satAddUnix(now, p.absolute)
	}
	value := p.sign(v)
	if p.header {
		h.Set(p.name, value)
		return
	}
	c := &http.Cookie{Name: p.name, Value: value, Path: p.path, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil}
	if p.permanent {
		// Session cookies carry no Max-Age or Expires, even with an
		// absoluteTimeout: the gateway enforces that one itself.
		c.MaxAge = max(int(min(v.expiry-now.Unix(), int64(p.absolute/time.Second))), 1)
	}
	h.Add("Set-Cookie", c.String())
}

// satAddUnix returns now+d in unix seconds, saturating instead of
// overflowing.
func satAddUnix(now time.Time, d time.Duration) int64 {
	s, add := now.Unix(), int64(d/time.Second)
	if add > 0 && s > (1<<63-1)-add {
		return 1<<63 - 1
	}
	return s + add
}

func (p *sessionPolicy) payload(v sessionValue) string {
	var b strings.Builder
	b.WriteString("v2|")
	b.WriteString(p.rule)
	b.WriteByte('|')
	b.WriteString(strconv.FormatInt(v.expiry, 10))
	for _, pin := range v.pins {
		b.WriteByte('|')
		b.WriteString(strconv.Itoa(pin.index))
		b.WriteByte(':')
		b.WriteString(pin.endpoint)
	}
	return b.String()
}

func (p *sessionPolicy) mac(payload string) []byte {
	m := hmac.New(sha256.New, p.key)
	m.Write([]byte(payload))
	return m.Sum(nil)[:16]
}

func (p *sessionPolicy) sign(v sessionValue) string {
	payload := p.payload(v)
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(payload)) + "." + enc.EncodeToString(p.mac(payload))
}

func (p *sessionPolicy) verify(raw string) (*sessionValue, bool) {
	enc := base64.RawURLEncoding
	if len(raw) > 2048 {
		return nil, false
	}
	b64, sig, ok := strings.Cut(raw, ".")
	if !ok {
		return nil, false
	}
	payload, err := enc.DecodeString(b64)
	if err != nil {
		return nil, false
	}
	mac, err := enc.DecodeString(sig)
	if err != nil || !hmac.Equal(mac, p.mac(string(payload))) {
		return nil, false
	}
	parts := strings.Split(string(payload), "|")
	if len(parts) < 3 || len(parts) > 3+maxSessionPins || parts[0] != "v2" || parts[1] != p.rule {
		return nil, false
	}
	exp, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil {
		return nil, false
	}
	v := &sessionValue{expiry: exp}
	for _, s := range parts[3:] {
		i, ep, ok := strings.Cut(s, ":")
		idx, err := strconv.Atoi(i)
		if !ok || err != nil || idx < 0 {
			return nil, false
		}
		v.pins = append(v.pins, sessionPin{index: idx, endpoint: ep})
	}
	return v, true
}

// endpointID is the opaque id of an endpoint address in session values.
func endpointID(addr string) string {
	sum := sha256.Sum256([]byte(addr))
	return fmt.Sprintf("%x", sum[:8])
}

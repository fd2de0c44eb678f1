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

// DefaultSessionName is the cookie or header name of a session when
// sessionPersistence does not set sessionName.
const DefaultSessionName = "httproute-session"

// sessionPolicy is a compiled SessionPersistence.
//
// A session value pins a client to one backendRef of one rule and, when
// the backend is an Upstream, to one endpoint of it. The value is
// "payload.mac": the payload names the rule, the backendRef's index, an
// opaque id of the endpoint (a hash, so endpoint addresses are not
// disclosed) and the absolute expiry; the mac is an HMAC-SHA256 of the
// payload with the Router's session key (Config.SessionKey). It is signed
// so that a client cannot steer its requests to a backendRef or endpoint
// of its choosing (a weight-0 canary, an endpoint the weights would not
// give it) nor extend its session past absoluteTimeout. A value that is
// tampered with, signed with another key, made for another rule, expired,
// or that names a backendRef that is now invalid or weighted 0 is ignored:
// the request gets the normal weighted choice and a new session. A pinned
// endpoint that is ejected or gone is replaced by the balancer's choice
// and the session re-pinned to it.
type sessionPolicy struct {
	header    bool // Header type; Cookie otherwise
	name      string
	permanent bool
	absolute  time.Duration
	key       []byte
	rule      string // "namespace/name/index"
}

// sessionValue is a verified session.
type sessionValue struct {
	index    int
	endpoint string
	expiry   int64 // unix seconds, 0 for none
}

func (rc *ruleCompiler) compileSession(sp *gatewayv1.SessionPersistence, path *field.Path) (*sessionPolicy, *field.Error) {
	p := &sessionPolicy{
		name: DefaultSessionName,
		key:  rc.c.sessionKey,
		rule: rc.route.namespace + "/" + rc.route.name + "/" + strconv.Itoa(rc.rule.index),
	}
	if sp.SessionName != nil && *sp.SessionName != "" {
		p.name = *sp.SessionName
	}
	typ := gatewayv1.CookieBasedSessionPersistence
	if sp.Type != nil {
		typ = *sp.Type
	}
	switch typ {
	case gatewayv1.CookieBasedSessionPersistence:
		if !validCookieName(p.name) {
			return nil, field.Invalid(path.Child("sessionName"), p.name, "must be a valid cookie name")
		}
	case gatewayv1.HeaderBasedSessionPersistence:
		p.header = true
		if !validHeaderName(p.name) {
			return nil, field.Invalid(path.Child("sessionName"), p.name, "must be a valid HTTP header name")
		}
		if sp.CookieConfig != nil {
			return nil, field.Invalid(path.Child("cookieConfig"), "", "cookieConfig can only be set with type Cookie")
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
	if cc := sp.CookieConfig; cc != nil && cc.LifetimeType != nil {
		switch *cc.LifetimeType {
		case gatewayv1.SessionCookieLifetimeType:
		case gatewayv1.PermanentCookieLifetimeType:
			if p.absolute == 0 {
				return nil, field.Required(path.Child("absoluteTimeout"), "AbsoluteTimeout must be specified when cookie lifetimeType is Permanent")
			}
			p.permanent = true
		default:
			return nil, field.NotSupported(path.Child("cookieConfig", "lifetimeType"), *cc.LifetimeType,
				[]gatewayv1.CookieLifetimeType{gatewayv1.SessionCookieLifetimeType, gatewayv1.PermanentCookieLifetimeType})
		}
	}
	return p, nil
}

func validCookieName(s string) bool {
	return validHeaderName(s) // a cookie name is an RFC 7230 token too
}

// resume returns the session the request carries and its backendRef, or
// nils when it carries none that is valid.
func (p *sessionPolicy) resume(r *http.Request, entries []*backendEntry, now time.Time) (*sessionValue, *backendEntry) {
	var raw string
	if p.header {
		raw = r.Header.Get(p.name)
	} else if c, err := r.Cookie(p.name); err == nil {
		raw = c.Value
	}
	if raw == "" {
		return nil, nil
	}
	v, ok := p.verify(raw)
	if !ok || (v.expiry != 0 && now.Unix() >= v.expiry) || v.index < 0 || v.index >= len(entries) {
		return nil, nil
	}
	e := entries[v.index]
	if e.choice.Weight <= 0 || e.choice.Err != nil {
		return nil, nil
	}
	return v, e
}

// issue adds the session to the response headers unless the request's
// session already says the same thing.
func (p *sessionPolicy) issue(h http.Header, r *http.Request, e *backendEntry, endpoint string, prev *sessionValue, now time.Time) {
	if prev != nil && prev.index == e.index && prev.endpoint == endpoint {
		return
	}
	v := sessionValue{index: e.index, endpoint: endpoint}
	switch {
	case prev != nil:
		v.expiry = prev.expiry // a re-pinned session keeps its lifetime
	case p.absolute > 0:
		v.expiry = now.Add(p.absolute).Unix()
	}
	value := p.sign(v)
	if p.header {
		h.Set(p.name, value)
		return
	}
	c := &http.Cookie{Name: p.name, Value: value, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil}
	if p.permanent {
		c.MaxAge = int(p.absolute / time.Second)
		if v.expiry != 0 {
			c.MaxAge = int(v.expiry - now.Unix())
		}
	}
	h.Add("Set-Cookie", c.String())
}

func (p *sessionPolicy) payload(v sessionValue) string {
	return "v1|" + p.rule + "|" + strconv.Itoa(v.index) + "|" + v.endpoint + "|" + strconv.FormatInt(v.expiry, 10)
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
	b64, sig, ok := strings.Cut(raw, ".")
	if !ok || len(raw) > 1024 {
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
	if len(parts) != 5 || parts[0] != "v1" || parts[1] != p.rule {
		return nil, false
	}
	idx, err1 := strconv.Atoi(parts[2])
	exp, err2 := strconv.ParseInt(parts[4], 10, 64)
	if err1 != nil || err2 != nil {
		return nil, false
	}
	return &sessionValue{index: idx, endpoint: parts[3], expiry: exp}, true
}

// endpointID is the opaque id of an endpoint address in session values.
func endpointID(addr string) string {
	sum := sha256.Sum256([]byte(addr))
	return fmt.Sprintf("%x", sum[:8])
}

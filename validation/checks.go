package validation

import (
	"net/netip"
	"regexp"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/httproute/httproute"
)

// libraryChecks are the checks of this library on top of the CRD rules:
// what the API server accepts but the Router cannot serve.
func libraryChecks(gvk schema.GroupVersionKind, obj map[string]any) field.ErrorList {
	if gvk.Group != gatewayv1.GroupName {
		return nil
	}
	spec, _ := obj["spec"].(map[string]any)
	switch gvk.Kind {
	case "HTTPRoute", "GRPCRoute":
		var errs field.ErrorList
		hostnames, _ := spec["hostnames"].([]any)
		for i, h := range hostnames {
			errs = append(errs, checkNotIP(h, field.NewPath("spec", "hostnames").Index(i))...)
		}
		return append(errs, regexChecks(spec)...)
	case "Gateway":
		var errs field.ErrorList
		listeners, _ := spec["listeners"].([]any)
		for i, l := range listeners {
			m, _ := l.(map[string]any)
			errs = append(errs, checkNotIP(m["hostname"], field.NewPath("spec", "listeners").Index(i).Child("hostname"))...)
		}
		return errs
	default:
		return nil
	}
}

// checkNotIP reports a hostname that is an IP address. The Gateway API
// excludes them ("IPs are not allowed"), but the CRDs' pattern cannot tell
// 10.0.0.1 from a DNS name, so the API server accepts them.
func checkNotIP(v any, p *field.Path) field.ErrorList {
	h, ok := v.(string)
	if !ok {
		return nil
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return field.ErrorList{field.Invalid(p, h, "must be a DNS name, not an IP address")}
	}
	return nil
}

// regexChecks reports RegularExpression matches that RE2 cannot compile.
// The CRDs accept any string there (regular expression dialects are
// implementation-specific); the Router uses Go's regexp package. Each
// expression must compile on its own: the Router anchors it as
// ^(?:expr)$, and an expression that only compiles inside that wrapping,
// such as "a)|(b", would escape the anchors.
func regexChecks(spec map[string]any) field.ErrorList {
	var errs field.ErrorList
	rules, _ := spec["rules"].([]any)
	for i, r := range rules {
		rule, _ := r.(map[string]any)
		matches, _ := rule["matches"].([]any)
		for j, m := range matches {
			match, _ := m.(map[string]any)
			mp := field.NewPath("spec", "rules").Index(i).Child("matches").Index(j)
			if p, ok := match["path"].(map[string]any); ok {
				errs = append(errs, checkRegex(p, string(gatewayv1.PathMatchRegularExpression), mp.Child("path", "value"))...)
			}
			// A GRPCRoute's method match: service and method patterns.
			if mm, ok := match["method"].(map[string]any); ok && mm["type"] == string(gatewayv1.GRPCMethodMatchRegularExpression) {
				for _, k := range []string{"service", "method"} {
					if v, ok := mm[k].(string); ok {
						errs = append(errs, checkRegex(map[string]any{"type": mm["type"], "value": v}, string(gatewayv1.GRPCMethodMatchRegularExpression), mp.Child("method", k))...)
					}
				}
			}
			for _, list := range []string{"headers", "queryParams"} {
				items, _ := match[list].([]any)
				for k, item := range items {
					m, _ := item.(map[string]any)
					errs = append(errs, checkRegex(m, string(gatewayv1.HeaderMatchRegularExpression), mp.Child(list).Index(k).Child("value"))...)
				}
			}
		}
	}
	return errs
}

func checkRegex(m map[string]any, regexType string, p *field.Path) field.ErrorList {
	if t, _ := m["type"].(string); t != regexType {
		return nil
	}
	v, ok := m["value"].(string)
	if !ok {
		return nil
	}
	if _, err := regexp.Compile(v); err != nil {
		return field.ErrorList{field.Invalid(p, v, "invalid RE2 regular expression: "+err.Error())}
	}
	return nil
}

// Warnings reports what a Router built from cfg would serve around: a
// backendRef, parentRef, ExtensionRef or certificate reference that does
// not resolve or is not permitted by a ReferenceGrant, a filter or value
// the Router does not implement, a listener that cannot be programmed.
// They are warnings rather than validation errors because the API server
// accepts such objects and the Router degrades only the rule, backendRef
// or listener concerned (reporting it in its Status); a host that wants
// them to be fatal sets Config.Strict.
//
// Warnings compiles cfg exactly as httproute.New does, with Strict set, so
// that it reports what the Router itself finds, as *httproute.Error values
// with field paths and condition reasons where the Router has them. Set
// cfg.Services and cfg.Extensions as the host program will: with no
// Services resolver, every Service backendRef is reported as not found.
func Warnings(cfg httproute.Config) error {
	cfg.Strict = true
	_, err := httproute.New(cfg)
	return err
}

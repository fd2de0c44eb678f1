package httproute

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	xv1alpha1 "sigs.k8s.io/gateway-api/apisx/v1alpha1"
)

// TelemetryPolicy is an XTelemetryPolicy (GEP-4768) as the Router applies
// it to the Gateways it targets, with its defaults applied and its
// provider resolved. The Router hands it to Observers (Record.Telemetry),
// which apply it to the spans they make, and to the host
// (Router.TelemetryPolicies), which exports the spans to its provider.
// It is read-only.
type TelemetryPolicy struct {
	// Policy names the XTelemetryPolicy.
	Policy types.NamespacedName
	// Gateways are the Gateways the policy applies to: those it targets
	// and on which it takes precedence.
	Gateways []types.NamespacedName
	// Mode is tracing.mode, TracingModeImplementationDefault when unset.
	Mode xv1alpha1.TracingMode
	// SamplingRate is the probability of sampling a new trace, in [0, 1],
	// or -1 when the policy leaves it to the implementation.
	SamplingRate float64
	// ParentBased is parentBasedSampling.mode,
	// ParentBasedSamplingModeImplementationDefault when unset;
	// ParentSamplingRate the rate at which sampled parents are followed
	// when it is Enabled (1 when unset).
	ParentBased        xv1alpha1.ParentBasedSamplingMode
	ParentSamplingRate float64
	// ServiceName is the "service.name" of the spans' resource, SpanName
	// the name of the request's span; empty for the implementation's.
	ServiceName string
	SpanName    string
	// Attributes are added to every span.
	Attributes []TelemetryAttribute
	// Provider is where spans are to be exported, nil unless Mode is
	// Enabled.
	Provider *TelemetryProvider
}

// Enabled reports whether the policy asks for spans: Mode is not
// Disabled.
func (p *TelemetryPolicy) Enabled() bool { return p.Mode != xv1alpha1.TracingModeDisabled }

// TelemetryAttribute is one span attribute of a TelemetryPolicy.
type TelemetryAttribute struct {
	// Name is the attribute's key.
	Name string
	// Source says where its value comes from: the request header Header,
	// the literal Value, or the value of the span's own attribute Key.
	Source xv1alpha1.AttributeSourceType
	Header string
	Value  string
	Key    string
}

// TelemetryProvider is the collector a TelemetryPolicy exports spans to.
type TelemetryProvider struct {
	// Ref is the provider's backendRef after defaulting.
	Ref BackendRef
	// Backend carries requests to it (an OTLP/HTTP exporter's transport:
	// any URL is sent to the backendRef's endpoints); nil when Err is set.
	Backend Backend
	// Header holds the headers to add to export requests.
	Header http.Header
	// Err is why the backendRef did not resolve (it wraps ErrNotFound,
	// ErrInvalidKind or ErrNotPermitted), nil when it did.
	Err error
}

// TelemetryPolicies returns the telemetry policy of each Gateway that one
// applies to, keyed by Gateway. The values are shared with the Router and
// must not be modified.
func (rt *Router) TelemetryPolicies() map[types.NamespacedName]*TelemetryPolicy {
	t := rt.table.Load()
	if t == nil {
		return map[types.NamespacedName]*TelemetryPolicy{}
	}
	out := make(map[types.NamespacedName]*TelemetryPolicy, len(t.telemetry))
	for gw, p := range t.telemetry {
		out[gw] = p
	}
	return out
}

const xtelemetryKind = "XTelemetryPolicy"

// indexTelemetry checks the XTelemetryPolicies of the Config for nil and
// duplicate objects, which make a Config unservable.
func (c *compiler) indexTelemetry() error {
	var errs []error
	seen := map[types.NamespacedName]bool{}
	for i, p := range c.cfg.XTelemetryPolicies {
		if p == nil {
			errs = append(errs, fmt.Errorf("httproute: nil XTelemetryPolicies[%d] in Config", i))
			continue
		}
		nn := types.NamespacedName{Namespace: p.Namespace, Name: p.Name}
		switch {
		case p.Name == "":
			errs = append(errs, fmt.Errorf("httproute: XTelemetryPolicy in namespace %q has no name", p.Namespace))
		case seen[nn]:
			errs = append(errs, fmt.Errorf("httproute: XTelemetryPolicy %s appears twice in Config", nn))
		}
		seen[nn] = true
	}
	return errors.Join(errs...)
}

// compileTelemetry compiles the XTelemetryPolicies for the Gateways the
// Router serves: the policy of each Gateway (the oldest of those that
// target it, then the first by namespace/name) and the status of every
// policy.
func (c *compiler) compileTelemetry(gateways []*gatewayv1.Gateway) (map[types.NamespacedName]*TelemetryPolicy, map[types.NamespacedName]xv1alpha1.TelemetryPolicyStatus) {
	if len(c.cfg.XTelemetryPolicies) == 0 {
		return nil, nil
	}
	served := map[types.NamespacedName]bool{}
	for _, gw := range gateways {
		served[types.NamespacedName{Namespace: gw.Namespace, Name: gw.Name}] = true
	}
	policies := slices.Clone(c.cfg.XTelemetryPolicies)
	slices.SortStableFunc(policies, func(a, b *xv1alpha1.XTelemetryPolicy) int {
		if ta, tb := a.CreationTimestamp.Time, b.CreationTimestamp.Time; !ta.Equal(tb) {
			return ta.Compare(tb)
		}
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	byGateway := map[types.NamespacedName]*TelemetryPolicy{}
	status := map[types.NamespacedName]xv1alpha1.TelemetryPolicyStatus{}
	for _, p := range policies {
		nn := types.NamespacedName{Namespace: p.Namespace, Name: p.Name}
		tp, invalid := c.telemetryPolicy(p)
		resolved := condition(string(xv1alpha1.TelemetryPolicyConditionResolvedRefs), true,
			string(xv1alpha1.TelemetryPolicyReasonResolvedRefs), "", p.Generation, c.now)
		if tp != nil && tp.Provider != nil && tp.Provider.Err != nil {
			resolved = condition(string(xv1alpha1.TelemetryPolicyConditionResolvedRefs), false,
				providerReason(tp.Provider.Err), tp.Provider.Err.Error(), p.Generation, c.now)
		}
		st := xv1alpha1.TelemetryPolicyStatus{Ancestors: []gatewayv1.PolicyAncestorStatus{}}
		for i, ref := range p.Spec.TargetRefs {
			if ref.Group != gatewayv1.GroupName || ref.Kind != "Gateway" {
				c.warn(xtelemetryKind, p.Namespace, p.Name, fmt.Sprintf("spec.targetRefs[%d]: kind %s.%s is not supported; only Gateways are targeted", i, ref.Kind, ref.Group))
				continue
			}
			gw := types.NamespacedName{Namespace: p.Namespace, Name: string(ref.Name)}
			if !served[gw] && c.gatewayNames[gw] {
				continue // a Gateway of another class: not this Router's to report
			}
			if len(st.Ancestors) == 16 {
				c.warn(xtelemetryKind, p.Namespace, p.Name, "targets more than 16 Gateways; the status lists the first 16")
				break
			}
			accepted := condition(string(gatewayv1.PolicyConditionAccepted), true, string(gatewayv1.PolicyReasonAccepted), "", p.Generation, c.now)
			switch other := byGateway[gw]; {
			case invalid != "":
				accepted = condition(string(gatewayv1.PolicyConditionAccepted), false, string(gatewayv1.PolicyReasonInvalid), invalid, p.Generation, c.now)
			case !served[gw]:
				accepted = condition(string(gatewayv1.PolicyConditionAccepted), false, string(gatewayv1.PolicyReasonTargetNotFound),
					fmt.Sprintf("gateway %s not found", gw), p.Generation, c.now)
			case other != nil:
				accepted = condition(string(gatewayv1.PolicyConditionAccepted), false, string(gatewayv1.PolicyReasonConflicted),
					fmt.Sprintf("XTelemetryPolicy %s applies to gateway %s: it is older, or first by namespace/name", other.Policy, gw), p.Generation, c.now)
			default:
				byGateway[gw] = tp
				tp.Gateways = append(tp.Gateways, gw)
			}
			st.Ancestors = append(st.Ancestors, gatewayv1.PolicyAncestorStatus{
				AncestorRef: gatewayv1.ParentReference{
					Group:     ptr(gatewayv1.Group(gatewayv1.GroupName)),
					Kind:      ptr(gatewayv1.Kind("Gateway")),
					Namespace: ptr(gatewayv1.Namespace(gw.Namespace)),
					Name:      gatewayv1.ObjectName(gw.Name),
				},
				ControllerName: c.controller,
				Conditions:     []metav1.Condition{accepted, resolved},
			})
		}
		status[nn] = st
	}
	return byGateway, status
}

// providerReason is the ResolvedRefs reason of a provider's error.
func providerReason(err error) string {
	switch {
	case errors.Is(err, ErrInvalidKind):
		return string(xv1alpha1.TelemetryPolicyReasonInvalidKind)
	case errors.Is(err, ErrNotPermitted):
		return string(xv1alpha1.TelemetryPolicyReasonRefNotPermitted)
	default:
		return string(xv1alpha1.TelemetryPolicyReasonBackendNotFound)
	}
}

// telemetryPolicy compiles the spec of one policy. It returns why the
// policy is invalid (what the CRD's validation would refuse, for objects
// built in Go), "" when it is valid.
func (c *compiler) telemetryPolicy(p *xv1alpha1.XTelemetryPolicy) (*TelemetryPolicy, string) {
	tr := &p.Spec.Tracing
	path := field.NewPath("spec", "tracing")
	tp := &TelemetryPolicy{
		Policy:             types.NamespacedName{Namespace: p.Namespace, Name: p.Name},
		Mode:               tr.Mode,
		SamplingRate:       -1,
		ParentBased:        tr.ParentBasedSampling.Mode,
		ParentSamplingRate: 1,
		ServiceName:        tr.ServiceName,
		SpanName:           tr.SpanName,
	}
	var errs field.ErrorList
	if len(p.Spec.TargetRefs) == 0 {
		errs = append(errs, field.Required(field.NewPath("spec", "targetRefs"), "a policy must target at least one Gateway"))
	}
	switch tp.Mode {
	case "":
		tp.Mode = xv1alpha1.TracingModeImplementationDefault
	case xv1alpha1.TracingModeEnabled, xv1alpha1.TracingModeDisabled, xv1alpha1.TracingModeImplementationDefault:
	default:
		errs = append(errs, field.NotSupported(path.Child("mode"), tp.Mode, []xv1alpha1.TracingMode{
			xv1alpha1.TracingModeEnabled, xv1alpha1.TracingModeDisabled, xv1alpha1.TracingModeImplementationDefault}))
	}
	switch tp.ParentBased {
	case "":
		tp.ParentBased = xv1alpha1.ParentBasedSamplingModeImplementationDefault
	case xv1alpha1.ParentBasedSamplingModeEnabled, xv1alpha1.ParentBasedSamplingModeDisabled, xv1alpha1.ParentBasedSamplingModeImplementationDefault:
	default:
		errs = append(errs, field.NotSupported(path.Child("parentBasedSampling", "mode"), tp.ParentBased, []xv1alpha1.ParentBasedSamplingMode{
			xv1alpha1.ParentBasedSamplingModeEnabled, xv1alpha1.ParentBasedSamplingModeDisabled, xv1alpha1.ParentBasedSamplingModeImplementationDefault}))
	}
	if f := tr.SamplingRate; f != nil {
		rate, fe := fractionRate(f, path.Child("samplingRate"))
		errs = append(errs, fe...)
		tp.SamplingRate = rate
	}
	if f := tr.ParentBasedSampling.SamplingRate; f != nil {
		rate, fe := fractionRate(f, path.Child("parentBasedSampling", "samplingRate"))
		errs = append(errs, fe...)
		tp.ParentSamplingRate = rate
	}
	for i, a := range tr.Attributes {
		ap := path.Child("attributes").Index(i)
		ta := TelemetryAttribute{Name: string(a.Name), Source: a.SourceType, Value: a.LiteralValue, Key: a.AttributeKey}
		switch a.SourceType {
		case xv1alpha1.AttributeSourceHeader:
			if a.HeaderName == "" {
				errs = append(errs, field.Required(ap.Child("headerName"), "headerName is required when sourceType is Header"))
			}
			ta.Header = http.CanonicalHeaderKey(string(a.HeaderName))
		case xv1alpha1.AttributeSourceLiteral:
			if a.LiteralValue == "" {
				errs = append(errs, field.Required(ap.Child("literalValue"), "literalValue is required when sourceType is Literal"))
			}
		case xv1alpha1.AttributeSourceAttribute:
			if a.AttributeKey == "" {
				errs = append(errs, field.Required(ap.Child("attributeKey"), "attributeKey is required when sourceType is Attribute"))
			}
		default:
			errs = append(errs, field.NotSupported(ap.Child("sourceType"), a.SourceType, []xv1alpha1.AttributeSourceType{
				xv1alpha1.AttributeSourceHeader, xv1alpha1.AttributeSourceLiteral, xv1alpha1.AttributeSourceAttribute}))
		}
		tp.Attributes = append(tp.Attributes, ta)
	}
	hasProvider := tr.Provider.BackendRef.Name != ""
	switch {
	case tp.Mode == xv1alpha1.TracingModeEnabled && !hasProvider:
		errs = append(errs, field.Required(path.Child("provider"), "provider is required when mode is Enabled"))
	case tp.Mode != xv1alpha1.TracingModeEnabled && hasProvider:
		errs = append(errs, field.Forbidden(path.Child("provider"), "provider must be empty unless mode is Enabled"))
	case hasProvider:
		tp.Provider = c.telemetryProvider(p, &tr.Provider)
	}
	if len(errs) > 0 {
		e := &Error{Kind: xtelemetryKind, Namespace: p.Namespace, Name: p.Name, Reason: string(gatewayv1.PolicyReasonInvalid), Field: errs[0]}
		c.problems = append(c.problems, e)
		c.env.logger.Warn("config problem", "error", e.Error())
		msgs := make([]string, len(errs))
		for i, fe := range errs {
			msgs[i] = fe.Error()
		}
		return nil, strings.Join(msgs, "; ")
	}
	return tp, ""
}

// fractionRate returns a Fraction as a rate in [0, 1].
func fractionRate(f *gatewayv1.Fraction, path *field.Path) (float64, field.ErrorList) {
	den := int32(100)
	if f.Denominator != nil {
		den = *f.Denominator
	}
	switch {
	case den < 1:
		return 0, field.ErrorList{field.Invalid(path.Child("denominator"), den, "must be at least 1")}
	case f.Numerator < 0 || f.Numerator > den:
		return 0, field.ErrorList{field.Invalid(path.Child("numerator"), f.Numerator, "must be between 0 and the denominator")}
	}
	return float64(f.Numerator) / float64(den), nil
}

// telemetryProvider resolves the backendRef of a policy's provider: a
// Service (through Config.Services) or an XBackend, in the policy's
// namespace or one whose ReferenceGrant allows it.
func (c *compiler) telemetryProvider(p *xv1alpha1.XTelemetryPolicy, tp *xv1alpha1.TracingProvider) *TelemetryProvider {
	ref := defaultBackendRef(&tp.BackendRef, p.Namespace)
	prov := &TelemetryProvider{Ref: ref, Header: http.Header{}}
	for _, h := range tp.Headers {
		prov.Header.Add(string(h.Name), h.Value)
	}
	isService := ref.Group == "" && ref.Kind == "Service"
	isXBackend := ref.Group == XBackendGroup && ref.Kind == "XBackend"
	switch {
	case !isService && !isXBackend:
		prov.Err = fmt.Errorf("provider backendRef: kind %s.%s is not supported (Service, XBackend.%s): %w", ref.Kind, ref.Group, XBackendGroup, ErrInvalidKind)
	case !c.grants.allows(xv1alpha1.GroupName, xtelemetryKind, p.Namespace, ref.Group, ref.Kind, ref.Namespace, ref.Name):
		prov.Err = fmt.Errorf("provider backendRef: %s %s/%s is in another namespace and no ReferenceGrant allows it: %w", ref.Kind, ref.Namespace, ref.Name, ErrNotPermitted)
	case isXBackend:
		x := c.xbackend(types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name})
		prov.Backend, prov.Err = x.backend, x.err
	case ref.Port == 0:
		prov.Err = fmt.Errorf("provider backendRef: port is required for a Service: %w", ErrNotFound)
	case c.cfg.Services == nil:
		prov.Err = fmt.Errorf("provider backendRef: no ServiceResolver configured: %w", ErrNotFound)
	default:
		prov.Backend, prov.Err = callResolver("the ServiceResolver", func() (Backend, error) { return c.cfg.Services.ResolveService(ref) })
	}
	if prov.Err != nil {
		prov.Backend = nil
		c.warn(xtelemetryKind, p.Namespace, p.Name, prov.Err.Error())
	}
	return prov
}

package lambda

import (
	"context"
	"fmt"
	corev1 "k8s.io/api/core/v1"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/httproute/httproute"
)

// Options configure a Provider. The zero Options invoke AWS's regional
// endpoints with the SDK's default credentials.
type Options struct {
	// Endpoint is the base URL of the Lambda API, such as a local
	// emulator's "http://127.0.0.1:9001", for Backends that do not set
	// spec.aws.lambda.endpointURL (seed-shape Backends have no such field).
	// Empty means AWS's regional endpoint, https://lambda.REGION.amazonaws.com,
	// unless Local is set.
	Endpoint string
	// Local declares that Lambda is served by a local emulator, never by
	// AWS. A Backend with no endpoint (neither Endpoint nor its
	// endpointURL) then answers 503 with a body that says how to configure
	// one, instead of calling AWS; and invokes that Credentials supplies no
	// credentials for are sent unsigned instead of signed with the SDK's
	// default credentials. Invokes to one endpoint are sent one at a
	// time, as the AWS Lambda Runtime Interface Emulator needs (it fails,
	// and crashes, on overlapping ones): a request waits for the one
	// before it, within its own deadline. The quick start sets it.
	Local bool
	// FunctionName, when set, is the function every AWS Backend invokes,
	// in place of the ones its spec names (which are still validated, and
	// still picked by Parameter filters). The AWS Lambda Runtime Interface
	// Emulator serves a single function, named "function", without
	// qualifier: the quick start sets FunctionName to "function".
	FunctionName string
	// Credentials supplies the credentials of a Backend, in place of the
	// Kubernetes Secret or IAM role it names (see CredentialsRef and
	// SecretCredentials). It is called when a Router compiles its Config;
	// an error leaves the backendRef unresolved with that message. When it
	// is nil or returns no provider:
	//
	//   - a Backend that names a Secret uses that Secret when the Router's
	//     Config.Secrets holds it (a Secret in another namespace needs a
	//     ReferenceGrant from gateway.kgateway.dev/Backend);
	//   - with Local, invokes are otherwise unsigned;
	//   - a Backend that names a Secret found nowhere is unresolved:
	//     credentials are never silently taken from elsewhere than the
	//     Secret it names;
	//   - a Backend that names a role assumes it through STS with the SDK's
	//     default credentials;
	//   - any other Backend uses the SDK's default credential chain
	//     (environment, shared files, web identity, container and instance
	//     metadata), loaded once per Provider.
	Credentials func(CredentialsRef) (aws.CredentialsProvider, error)
	// Balancer spreads the requests of a static Backend over its hosts;
	// the zero value is the Router's default (httproute.LeastRequest).
	// kgateway's Envoy balances static hosts round robin:
	// httproute.RoundRobin does the same.
	Balancer httproute.Balancer
	// Health is the passive health checking of a static Backend's hosts;
	// the zero value is httproute.HealthConfig's defaults.
	Health httproute.HealthConfig
	// Transport carries the invokes and the requests to static hosts. Nil
	// gives the Provider transports of its own (see httproute.NewTransport).
	Transport http.RoundTripper
	// MaxPayloadBytes bounds the request body of an invoke. Zero means
	// 6 MiB, Lambda's limit for synchronous invokes. A larger body answers
	// 413 without an invoke.
	MaxPayloadBytes int64
	// Logger receives what clients are not shown: a failed function's
	// error payload and the message of a Lambda API error. Nil discards it.
	Logger *slog.Logger
}

// DefaultMaxPayloadBytes is the request body limit when
// Options.MaxPayloadBytes is zero.
const DefaultMaxPayloadBytes = 6 << 20

// DefaultRegion is the region of an AWS Backend that names none, as in
// kgateway.
const DefaultRegion = "us-east-1"

// A Provider builds the Backends of kgateway's Backend kind. It holds what
// they share: options, the HTTP client of the invokes and the SDK's default
// configuration, loaded at most once. It is safe for concurrent use. The
// zero Provider is New(Options{}).
type Provider struct {
	opts     Options
	initOnce sync.Once
	// httpClient carries the invokes.
	httpClient *http.Client
	cfgOnce    sync.Once
	cfg        aws.Config
	cfgErr     error
	// gates serialize the invokes of Local mode, one gate per endpoint:
	// the AWS Lambda Runtime Interface Emulator takes one invoke at a
	// time and crashes on overlapping ones.
	gatesMu sync.Mutex
	gates   map[string]chan struct{}
}

// New returns a Provider for opts.
func New(opts Options) *Provider {
	p := &Provider{opts: opts}
	p.init()
	return p
}

// init applies the defaults of Options, once.
func (p *Provider) init() {
	p.initOnce.Do(func() {
		if p.opts.MaxPayloadBytes <= 0 {
			p.opts.MaxPayloadBytes = DefaultMaxPayloadBytes
		}
		if p.opts.Logger == nil {
			p.opts.Logger = slog.New(slog.DiscardHandler)
		}
		t := p.opts.Transport
		if t == nil {
			t = httproute.NewTransport(false)
		}
		p.httpClient = &http.Client{Transport: t}
	})
}

// Extensions returns the extensions that let routes use Backends and
// Parameters, to add to httproute.Config.Extensions. It is
// New(opts).Extensions().
func Extensions(opts Options) []httproute.Extension { return New(opts).Extensions() }

// Extensions returns the Backend kind served by p and the Parameter kind.
func (p *Provider) Extensions() []httproute.Extension {
	return []httproute.Extension{p.BackendExtension(), ParameterExtension()}
}

// BackendExtension returns the extension of the Backend kind: its objects
// decode into *Backend and backendRefs to them are served by p.
func (p *Provider) BackendExtension() httproute.Extension {
	return httproute.Extension{
		Kind:    BackendGVK(),
		New:     func() httproute.Object { return &Backend{} },
		Backend: p.resolve,
	}
}

func (p *Provider) resolve(ref httproute.BackendRef) (httproute.Backend, error) {
	b, ok := ref.Object.(*Backend)
	if !ok || b == nil {
		return nil, fmt.Errorf("%s %s/%s is a %T, not a *lambda.Backend: %w", ref.Kind, ref.Namespace, ref.Name, ref.Object, httproute.ErrInvalidKind)
	}
	be, err := p.newBackend(b, ref.Secret)
	if err != nil {
		return nil, err
	}
	if lb, ok := be.(*lambdaBackend); ok {
		if err := lb.pick(ref.Filters); err != nil {
			return nil, fmt.Errorf("backend %s/%s: %w", b.Namespace, b.Name, err)
		}
	}
	return be, nil
}

// pick settles, when a Router compiles a backendRef, which function of a
// Backend of the seed shape it invokes: the one whose logicalName the
// backendRef's Parameter filter names, or the only one listed. A
// Parameter that names no function, more than one Parameter, or none when
// several functions are listed, is an error wrapping httproute.ErrNotFound,
// so that the route reports ResolvedRefs False instead of answering 500 to
// every request. A Backend of the current shape names its function itself
// and ignores Parameters.
func (lb *lambdaBackend) pick(filters []httproute.ObjectRef) error {
	if len(lb.functions) == 0 {
		return nil
	}
	var params []string
	for _, f := range filters {
		if f.Group == Group && f.Kind == KindParameter {
			params = append(params, f.Name)
		}
	}
	names := slices.Sorted(maps.Keys(lb.functions))
	switch len(params) {
	case 0:
		if lb.only != "" {
			return nil
		}
		return notPicked(fmt.Sprintf("spec.aws.lambdaFunctions lists %d functions (logicalName %s) and the backendRef has no Parameter filter to pick one",
			len(names), strings.Join(names, ", ")))
	case 1:
	default:
		return notPicked(fmt.Sprintf("the backendRef has %d Parameter filters (%s); one picks the function",
			len(params), strings.Join(params, ", ")))
	}
	fn, ok := lb.functions[params[0]]
	if !ok {
		return notPicked(fmt.Sprintf("Parameter %q names no function: spec.aws.lambdaFunctions has logicalName %s",
			params[0], strings.Join(names, ", ")))
	}
	// The route's choice is made once: requests no longer consult the
	// Parameter.
	lb.only, lb.functions = fn, nil
	return nil
}

// notPicked is the error of a backendRef that does not settle its
// function: the message alone, wrapping httproute.ErrNotFound.
type notPicked string

func (e notPicked) Error() string { return string(e) }
func (e notPicked) Unwrap() error { return httproute.ErrNotFound }

// NewBackend returns the Backend that serves b. It fails, naming the
// fields at fault, when b is invalid; the error wraps
// httproute.ErrUnsupported when a static backend's appProtocol cannot be
// served.
func (p *Provider) NewBackend(b *Backend) (httproute.Backend, error) {
	return p.newBackend(b, nil)
}

// newBackend is NewBackend with the Router's Secret lookup for the
// Backend's credentials.
func (p *Provider) newBackend(b *Backend, secrets func(ns, name string) (*corev1.Secret, error)) (httproute.Backend, error) {
	p.init()
	if b == nil {
		return nil, fmt.Errorf("nil Backend: %w", httproute.ErrNotFound)
	}
	spec := field.NewPath("spec")
	var errs field.ErrorList
	if t := b.Spec.Type; t != nil {
		switch {
		case strings.EqualFold(string(*t), string(BackendTypeAWS)):
			if b.Spec.AWS == nil {
				errs = append(errs, field.Required(spec.Child("aws"), "aws backend must be specified when type is 'AWS'"))
			}
		case strings.EqualFold(string(*t), string(BackendTypeStatic)):
			if b.Spec.Static == nil {
				errs = append(errs, field.Required(spec.Child("static"), "static backend must be specified when type is 'Static'"))
			}
		default:
			errs = append(errs, field.NotSupported(spec.Child("type"), *t, []BackendType{BackendTypeAWS, BackendTypeStatic}))
		}
	}
	var be httproute.Backend
	var err error
	switch {
	case len(errs) > 0:
	case b.Spec.AWS != nil && b.Spec.Static != nil:
		errs = append(errs, field.Forbidden(spec, "exactly one of aws and static may be set"))
	case b.Spec.AWS != nil:
		be, errs, err = p.newLambda(b, spec.Child("aws"), secrets)
	case b.Spec.Static != nil:
		be, errs, err = p.newStatic(b.Spec.Static, spec.Child("static"))
	default:
		errs = append(errs, field.Required(spec, "one of aws or static is required"))
	}
	if len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Error()
		}
		return nil, fmt.Errorf("backend %s/%s: %s", b.Namespace, b.Name, strings.Join(msgs, "; "))
	}
	if err != nil {
		return nil, fmt.Errorf("backend %s/%s: %w", b.Namespace, b.Name, err)
	}
	return be, nil
}

// The patterns of kgateway's CRD validation.
var (
	functionNamePattern = regexp.MustCompile(`^[A-Za-z0-9-_]{1,140}$`)
	qualifierPattern    = regexp.MustCompile(`^(\$LATEST|[0-9]+|[A-Za-z0-9-_]{1,128})$`)
	accountIDPattern    = regexp.MustCompile(`^[0-9]{12}$`)
	regionPattern       = regexp.MustCompile(`^[a-z0-9-]{1,63}$`)
	endpointURLPattern  = regexp.MustCompile(`^https?://[-a-zA-Z0-9@:%.+~#?&/=]+$`)
	roleARNPattern      = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$`)
)

// newLambda validates an AWS backend and builds its invoker.
func (p *Provider) newLambda(b *Backend, path *field.Path, secrets func(ns, name string) (*corev1.Secret, error)) (httproute.Backend, field.ErrorList, error) {
	a := b.Spec.AWS
	var errs field.ErrorList
	region := a.Region
	if region == "" {
		region = DefaultRegion
	} else if !regionPattern.MatchString(region) {
		errs = append(errs, field.Invalid(path.Child("region"), region, "must match "+regionPattern.String()))
	}
	if a.AccountID != "" && !accountIDPattern.MatchString(a.AccountID) {
		errs = append(errs, field.Invalid(path.Child("accountId"), a.AccountID, "must be 12 digits"))
	}
	lb := &lambdaBackend{
		name:       b.Namespace + "/" + b.Name,
		functions:  map[string]string{},
		transform:  true,
		maxPayload: p.opts.MaxPayloadBytes,
		logger:     p.opts.Logger,
	}
	if a.SecretRef != nil && (a.Auth != nil || a.Lambda != nil) {
		// The seed's shape and the current one are exclusive: a secretRef
		// next to auth (an AssumeRole, say) would be used instead of it.
		errs = append(errs, field.Forbidden(path.Child("secretRef"), "secretRef belongs to the lambdaFunctions shape; with auth or lambda, use auth.secretRef"))
	}
	var endpoint string
	switch {
	case a.Lambda != nil && len(a.LambdaFunctions) > 0:
		errs = append(errs, field.Forbidden(path.Child("lambdaFunctions"), "lambda and lambdaFunctions cannot both be set"))
	case a.Lambda != nil:
		l := a.Lambda
		lp := path.Child("lambda")
		if !functionNamePattern.MatchString(l.FunctionName) {
			errs = append(errs, invalidOrRequired(lp.Child("functionName"), l.FunctionName, "must match "+functionNamePattern.String()))
		}
		if l.Qualifier != "" && !qualifierPattern.MatchString(l.Qualifier) {
			errs = append(errs, field.Invalid(lp.Child("qualifier"), l.Qualifier, "must be $LATEST, a version number or an alias name"))
		}
		account := a.AccountID
		if l.AccountID != "" {
			account = l.AccountID
			if !accountIDPattern.MatchString(l.AccountID) {
				errs = append(errs, field.Invalid(lp.Child("accountId"), l.AccountID, "must be 12 digits"))
			}
		}
		switch l.InvocationMode {
		case "", InvocationModeSync:
		case InvocationModeAsync:
			lb.async = true
		default:
			errs = append(errs, field.NotSupported(lp.Child("invocationMode"), l.InvocationMode, []string{InvocationModeSync, InvocationModeAsync}))
		}
		switch l.PayloadTransformMode {
		case "", PayloadTransformEnvoy:
		case PayloadTransformNone:
			lb.transform = false
		default:
			errs = append(errs, field.NotSupported(lp.Child("payloadTransformMode"), l.PayloadTransformMode, []PayloadTransformMode{PayloadTransformEnvoy, PayloadTransformNone}))
		}
		if l.EndpointURL != nil {
			endpoint = *l.EndpointURL
			if !endpointURLPattern.MatchString(endpoint) {
				errs = append(errs, field.Invalid(lp.Child("endpointURL"), endpoint, "must be an http:// or https:// URL"))
			}
		}
		lb.only = functionID(region, account, l.FunctionName, l.Qualifier)
	case len(a.LambdaFunctions) > 0:
		fp := path.Child("lambdaFunctions")
		for i, f := range a.LambdaFunctions {
			ip := fp.Index(i)
			if !functionNamePattern.MatchString(f.LambdaFunctionName) {
				errs = append(errs, invalidOrRequired(ip.Child("lambdaFunctionName"), f.LambdaFunctionName, "must match "+functionNamePattern.String()))
			}
			if f.Qualifier != "" && !qualifierPattern.MatchString(f.Qualifier) {
				errs = append(errs, field.Invalid(ip.Child("qualifier"), f.Qualifier, "must be $LATEST, a version number or an alias name"))
			}
			switch _, dup := lb.functions[f.LogicalName]; {
			case f.LogicalName == "":
				errs = append(errs, field.Required(ip.Child("logicalName"), ""))
			case dup:
				errs = append(errs, field.Duplicate(ip.Child("logicalName"), f.LogicalName))
			}
			lb.functions[f.LogicalName] = functionID(region, a.AccountID, f.LambdaFunctionName, f.Qualifier)
		}
		if len(a.LambdaFunctions) == 1 {
			lb.only = lb.functions[a.LambdaFunctions[0].LogicalName]
		}
	default:
		errs = append(errs, field.Required(path.Child("lambda"), "one of lambda or lambdaFunctions is required"))
	}
	if a.SecretRef != nil && a.SecretRef.Name == "" {
		errs = append(errs, field.Required(path.Child("secretRef", "name"), ""))
	}
	if au := a.Auth; au != nil {
		ap := path.Child("auth")
		switch au.Type {
		case AWSAuthTypeSecret:
			if au.SecretRef == nil || au.SecretRef.Name == "" {
				errs = append(errs, field.Required(ap.Child("secretRef"), "secretRef must be specified when type is 'Secret'"))
			}
		case AWSAuthTypeAssumeRole:
			if au.AssumeRole == nil || !roleARNPattern.MatchString(au.AssumeRole.RoleARN) {
				errs = append(errs, field.Required(ap.Child("assumeRole", "roleArn"), "an IAM role ARN must be specified when type is 'AssumeRole'"))
			}
		default:
			errs = append(errs, field.NotSupported(ap.Child("type"), au.Type, []AWSAuthType{AWSAuthTypeSecret, AWSAuthTypeAssumeRole}))
		}
		if au.SecretRef != nil && au.Type != AWSAuthTypeSecret {
			errs = append(errs, field.Forbidden(ap.Child("secretRef"), "secretRef must be nil if the type is not 'Secret'"))
		}
		if au.AssumeRole != nil && au.Type != AWSAuthTypeAssumeRole {
			errs = append(errs, field.Forbidden(ap.Child("assumeRole"), "assumeRole must be nil if the type is not 'AssumeRole'"))
		}
	}
	if endpoint == "" {
		endpoint = p.opts.Endpoint
		if endpoint != "" && !endpointURLPattern.MatchString(endpoint) {
			return nil, errs, fmt.Errorf("lambda.Options.Endpoint %q must be an http:// or https:// URL", endpoint)
		}
	}
	if len(errs) > 0 {
		return nil, errs, nil
	}
	if fn := p.opts.FunctionName; fn != "" {
		for k := range lb.functions {
			lb.functions[k] = fn
		}
		if lb.only != "" {
			lb.only = fn
		}
	}
	lb.endpoint = endpoint
	lb.target = endpointHost(endpoint, region)
	if p.opts.Local && endpoint != "" {
		lb.gate = p.gate(endpoint)
	}
	if endpoint == "" && p.opts.Local {
		lb.unavailable = fmt.Sprintf("lambda: Backend %s has no Lambda endpoint to invoke: lambda.Options.Local is set and "+
			"neither lambda.Options.Endpoint nor spec.aws.lambda.endpointURL names one. Start a local Lambda emulator "+
			"(such as the AWS Lambda Runtime Interface Emulator) and set lambda.Options.Endpoint to its address, "+
			"for example http://127.0.0.1:9001.\n", lb.name)
		return lb, nil, nil
	}
	creds, err := p.credentialsFor(credentialsRef(b), region, secrets)
	if err != nil {
		return nil, nil, err
	}
	o := awslambda.Options{
		Region:      region,
		Credentials: creds,
		HTTPClient:  p.httpClient,
		// The route's retry policy decides whether to retry, not the SDK.
		Retryer:          aws.NopRetryer{},
		RetryMaxAttempts: 1,
	}
	if endpoint != "" {
		o.BaseEndpoint = aws.String(endpoint)
	}
	lb.client = awslambda.New(o)
	return lb, nil, nil
}

// gate returns the gate that serializes the local-mode invokes sent to
// endpoint, shared by every Backend of p that invokes it.
func (p *Provider) gate(endpoint string) chan struct{} {
	p.gatesMu.Lock()
	defer p.gatesMu.Unlock()
	g := p.gates[endpoint]
	if g == nil {
		if p.gates == nil {
			p.gates = map[string]chan struct{}{}
		}
		g = make(chan struct{}, 1)
		p.gates[endpoint] = g
	}
	return g
}

func invalidOrRequired(p *field.Path, v, detail string) *field.Error {
	if v == "" {
		return field.Required(p, "")
	}
	return field.Invalid(p, v, detail)
}

// functionID is what the invoke path names: the function's ARN with its
// qualifier when the account is known, as kgateway configures Envoy, and
// otherwise the name with its qualifier, which the Lambda API accepts too.
func functionID(region, account, name, qualifier string) string {
	if qualifier == "" {
		qualifier = "$LATEST"
	}
	if account == "" {
		return name + ":" + qualifier
	}
	partition := "aws"
	switch {
	case strings.HasPrefix(region, "cn-"):
		partition = "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		partition = "aws-us-gov"
	}
	return "arn:" + partition + ":lambda:" + region + ":" + account + ":function:" + name + ":" + qualifier
}

// newStatic validates a static backend and builds an Upstream for it.
func (p *Provider) newStatic(s *StaticBackend, path *field.Path) (httproute.Backend, field.ErrorList, error) {
	var errs field.ErrorList
	if len(s.Hosts) == 0 {
		errs = append(errs, field.Required(path.Child("hosts"), "at least one host is required"))
	}
	eps := make([]string, 0, len(s.Hosts))
	for i, h := range s.Hosts {
		hp := path.Child("hosts").Index(i)
		if h.Host == "" || strings.ContainsAny(h.Host, "/ ") {
			errs = append(errs, invalidOrRequired(hp.Child("host"), h.Host, "must be a host name or IP address"))
		}
		if h.Port < 1 || h.Port > 65535 {
			errs = append(errs, field.Invalid(hp.Child("port"), h.Port, "must be between 1 and 65535"))
		}
		eps = append(eps, net.JoinHostPort(h.Host, strconv.Itoa(int(h.Port))))
	}
	proto := ""
	if s.AppProtocol != nil {
		switch *s.AppProtocol {
		case AppProtocolHTTP2, AppProtocolGRPC, AppProtocolH2C:
			proto = httproute.AppProtocolH2C
		case AppProtocolWS:
			proto = httproute.AppProtocolWS
		case AppProtocolGRPCWeb, "":
		default:
			return nil, nil, fmt.Errorf("%s: Unsupported value: %q: %w", path.Child("appProtocol"), *s.AppProtocol, httproute.ErrUnsupported)
		}
	}
	if len(errs) > 0 {
		return nil, errs, nil
	}
	u, err := httproute.NewUpstream(httproute.UpstreamConfig{
		Endpoints:   eps,
		AppProtocol: proto,
		Transport:   p.opts.Transport,
		Balancer:    p.opts.Balancer,
		Health:      p.opts.Health,
	})
	if err != nil {
		return nil, nil, err
	}
	return u, nil, nil
}

// ParameterExtension returns the extension of kgateway's Parameter kind,
// referenced by name alone (it has no objects). An ExtensionRef filter of
// this kind on a backendRef to an AWS Backend of the seed shape picks the
// function whose logicalName is the Parameter's name. Other backends ignore
// it.
func ParameterExtension() httproute.Extension {
	return httproute.Extension{
		Kind: ParameterGVK(),
		Filter: func(ref httproute.ObjectRef) (httproute.Filter, error) {
			name := ref.Name
			return httproute.FilterFunc(func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					next.ServeHTTP(w, r.WithContext(WithLogicalName(r.Context(), name)))
				})
			}), nil
		},
	}
}

type logicalNameKey struct{}

// WithLogicalName returns a context that makes AWS Backends of the seed
// shape invoke the function with that logical name, as a Parameter filter
// does. It lets a host call a Backend directly.
func WithLogicalName(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, logicalNameKey{}, name)
}

func logicalName(ctx context.Context) string {
	s, _ := ctx.Value(logicalNameKey{}).(string)
	return s
}

// endpointHost returns the host of an endpoint URL for messages.
func endpointHost(endpoint, region string) string {
	if endpoint == "" {
		return "lambda." + region + ".amazonaws.com"
	}
	if u, err := url.Parse(endpoint); err == nil && u.Host != "" {
		return u.Host
	}
	return endpoint
}

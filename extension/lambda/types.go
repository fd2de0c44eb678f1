package lambda

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The group, version and kinds this package serves, as kgateway's CRDs
// declare them.
const (
	Group         = "gateway.kgateway.dev"
	Version       = "v1alpha1"
	KindBackend   = "Backend"
	KindParameter = "Parameter"
)

// BackendGVK returns the group, version and kind of Backend.
func BackendGVK() schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: Group, Version: Version, Kind: KindBackend}
}

// ParameterGVK returns the group, version and kind of the Parameter
// filter kind.
func ParameterGVK() schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: Group, Version: Version, Kind: KindParameter}
}

// Backend is kgateway's Backend object (group gateway.kgateway.dev, kind
// Backend): a destination other than a Service, here an AWS Lambda function
// or a static list of hosts. Its JSON field names are the CRD's, so
// manifests decode into it.
type Backend struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   BackendSpec   `json:"spec"`
	Status BackendStatus `json:"status,omitempty"`
}

// BackendType is the deprecated discriminator of a BackendSpec. The
// backend's kind is inferred from which of aws and static is set; when Type
// is set too it must agree (compared case-insensitively, since kgateway
// first spelled the values in lower case).
type BackendType string

// BackendType values.
const (
	BackendTypeAWS    BackendType = "AWS"
	BackendTypeStatic BackendType = "Static"
)

// BackendSpec is the desired state of a Backend. Exactly one of AWS and
// Static must be set.
type BackendSpec struct {
	// Type is deprecated; see BackendType.
	Type *BackendType `json:"type,omitempty"`
	// AWS sends requests to an AWS Lambda function.
	AWS *AWSBackend `json:"aws,omitempty"`
	// Static sends requests to a fixed list of hosts.
	Static *StaticBackend `json:"static,omitempty"`
}

// AWSBackend configures an AWS Lambda backend. It accepts two shapes:
//
//   - kgateway's current one: Lambda names one function, with AccountID,
//     Region and Auth beside it;
//   - the earlier one of the seed manifests: Region, SecretRef and a list
//     of LambdaFunctions, one of which a route picks by logical name with
//     an ExtensionRef filter of kind Parameter on its backendRef.
//
// A Backend uses one shape: Lambda and LambdaFunctions are exclusive.
type AWSBackend struct {
	// Lambda configures the function to invoke (current shape).
	Lambda *AWSLambda `json:"lambda,omitempty"`
	// AccountID is the 12-digit AWS account of the function. Deprecated
	// in kgateway in favour of Lambda.AccountID, which wins when both are
	// set. Without an account ID the function is invoked by name instead
	// of by ARN.
	AccountID string `json:"accountId,omitempty"`
	// Auth selects the credentials that sign the invokes (current shape).
	// Nil means the host's default credentials; see Options.Credentials.
	Auth *AWSAuth `json:"auth,omitempty"`
	// Region is the AWS region of the function. Empty means us-east-1.
	Region string `json:"region,omitempty"`

	// SecretRef names the Secret holding the credentials (seed shape).
	// Its namespace defaults to the Backend's.
	SecretRef *SecretReference `json:"secretRef,omitempty"`
	// LambdaFunctions lists the functions a route may pick (seed shape).
	LambdaFunctions []LambdaFunction `json:"lambdaFunctions,omitempty"`
}

// SecretReference names a Secret, in the Backend's namespace when
// Namespace is empty.
type SecretReference struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
}

// LambdaFunction is one function of the seed shape's list.
type LambdaFunction struct {
	// LambdaFunctionName is the function's name in AWS.
	LambdaFunctionName string `json:"lambdaFunctionName"`
	// LogicalName is the name a Parameter filter uses to pick the function.
	LogicalName string `json:"logicalName"`
	// Qualifier is the version or alias to invoke. Empty means $LATEST.
	Qualifier string `json:"qualifier,omitempty"`
}

// AWSAuthType is how an AWS backend obtains its credentials.
type AWSAuthType string

// AWSAuthType values.
const (
	// AWSAuthTypeSecret signs with the credentials of a Secret.
	AWSAuthTypeSecret AWSAuthType = "Secret"
	// AWSAuthTypeAssumeRole signs with the temporary credentials of an
	// IAM role assumed through STS with the default credentials.
	AWSAuthTypeAssumeRole AWSAuthType = "AssumeRole"
)

// AWSAuth selects the credentials of an AWS backend.
type AWSAuth struct {
	Type AWSAuthType `json:"type"`
	// SecretRef names a Secret in the Backend's namespace, with keys
	// accessKey, secretKey and optionally sessionToken. Required when
	// Type is Secret.
	SecretRef *corev1.LocalObjectReference `json:"secretRef,omitempty"`
	// AssumeRole names the role to assume. Required when Type is
	// AssumeRole.
	AssumeRole *AWSAssumeRole `json:"assumeRole,omitempty"`
}

// AWSAssumeRole names an IAM role to assume.
type AWSAssumeRole struct {
	RoleARN string `json:"roleArn"`
}

// Invocation modes of AWSLambda.
const (
	InvocationModeSync  = "Sync"
	InvocationModeAsync = "Async"
)

// PayloadTransformMode says whether the HTTP request is turned into the
// JSON event of Envoy's aws_lambda filter before the invoke.
type PayloadTransformMode string

// PayloadTransformMode values.
const (
	// PayloadTransformEnvoy sends the request as Envoy's JSON event and
	// turns the function's JSON answer into the HTTP response.
	PayloadTransformEnvoy PayloadTransformMode = "Envoy"
	// PayloadTransformNone sends the request body as the payload and the
	// function's payload back as the response body.
	PayloadTransformNone PayloadTransformMode = "None"
)

// AWSLambda configures the function of the current shape.
type AWSLambda struct {
	// AccountID is the 12-digit AWS account of the function.
	AccountID string `json:"accountId,omitempty"`
	// EndpointURL is the base URL of the Lambda API, such as a local
	// emulator's "http://127.0.0.1:9001". Nil means Options.Endpoint, or
	// AWS's regional endpoint when that is empty too.
	EndpointURL *string `json:"endpointURL,omitempty"`
	// FunctionName is the function's name in AWS.
	FunctionName string `json:"functionName"`
	// InvocationMode is Sync (the default) or Async.
	InvocationMode string `json:"invocationMode,omitempty"`
	// Qualifier is the version or alias to invoke. Empty means $LATEST.
	Qualifier string `json:"qualifier,omitempty"`
	// PayloadTransformMode is Envoy (the default) or None.
	PayloadTransformMode PayloadTransformMode `json:"payloadTransformMode,omitempty"`
}

// AppProtocol is the protocol a static backend speaks.
type AppProtocol string

// AppProtocol values understood by static backends. Static hosts are
// reached over cleartext, so HTTP/2 means HTTP/2 with prior knowledge.
const (
	AppProtocolHTTP2   AppProtocol = "http2"
	AppProtocolGRPC    AppProtocol = "grpc"
	AppProtocolGRPCWeb AppProtocol = "grpc-web"
	AppProtocolH2C     AppProtocol = "kubernetes.io/h2c"
	AppProtocolWS      AppProtocol = "kubernetes.io/ws"
)

// StaticBackend is a fixed list of hosts, balanced round robin.
type StaticBackend struct {
	Hosts []Host `json:"hosts"`
	// AppProtocol is the protocol the hosts speak. Nil means HTTP/1.1.
	AppProtocol *AppProtocol `json:"appProtocol,omitempty"`
}

// Host is one host of a static backend.
type Host struct {
	Host string `json:"host"`
	Port int32  `json:"port"`
}

// BackendStatus is the observed state of a Backend. The Router does not
// write it; it is kept so that manifests with a status decode.
type BackendStatus struct {
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// DeepCopyObject implements runtime.Object.
func (b *Backend) DeepCopyObject() runtime.Object {
	if b == nil {
		return nil
	}
	return b.DeepCopy()
}

// DeepCopy returns a copy of b that shares no memory with it.
func (b *Backend) DeepCopy() *Backend {
	if b == nil {
		return nil
	}
	out := &Backend{TypeMeta: b.TypeMeta}
	b.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	out.Spec = b.Spec.deepCopy()
	if b.Status.Conditions != nil {
		out.Status.Conditions = make([]metav1.Condition, len(b.Status.Conditions))
		for i := range b.Status.Conditions {
			b.Status.Conditions[i].DeepCopyInto(&out.Status.Conditions[i])
		}
	}
	return out
}

func (s BackendSpec) deepCopy() BackendSpec {
	out := BackendSpec{Type: clonePtr(s.Type)}
	if a := s.AWS; a != nil {
		c := *a
		if a.Lambda != nil {
			l := *a.Lambda
			l.EndpointURL = clonePtr(a.Lambda.EndpointURL)
			c.Lambda = &l
		}
		if a.Auth != nil {
			au := *a.Auth
			au.SecretRef = clonePtr(a.Auth.SecretRef)
			au.AssumeRole = clonePtr(a.Auth.AssumeRole)
			c.Auth = &au
		}
		c.SecretRef = clonePtr(a.SecretRef)
		if a.LambdaFunctions != nil {
			c.LambdaFunctions = append([]LambdaFunction(nil), a.LambdaFunctions...)
		}
		out.AWS = &c
	}
	if st := s.Static; st != nil {
		c := StaticBackend{AppProtocol: clonePtr(st.AppProtocol)}
		if st.Hosts != nil {
			c.Hosts = append([]Host(nil), st.Hosts...)
		}
		out.Static = &c
	}
	return out
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

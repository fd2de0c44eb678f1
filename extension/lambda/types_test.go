package lambda_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/extension/lambda"
)

func ptr[T any](v T) *T { return &v }

// TestDecodeShapes decodes both CRD shapes of spec.aws and a static
// backend strictly, as the manifest loader does: a JSON tag that differs
// from kgateway's CRD fails it.
func TestDecodeShapes(t *testing.T) {
	docs := seedManifests + `
---
apiVersion: gateway.kgateway.dev/v1alpha1
kind: Backend
metadata:
  name: current
  namespace: default
spec:
  type: AWS
  aws:
    accountId: "000000000000"
    region: eu-west-1
    auth:
      type: Secret
      secretRef:
        name: creds
    lambda:
      accountId: "123456789012"
      endpointURL: http://127.0.0.1:9001
      functionName: my-function
      invocationMode: Async
      qualifier: "3"
      payloadTransformMode: None
---
apiVersion: gateway.kgateway.dev/v1alpha1
kind: Backend
metadata:
  name: static
  namespace: default
spec:
  static:
    hosts:
    - host: 127.0.0.1
      port: 8080
    - host: localhost
      port: 8081
    appProtocol: kubernetes.io/h2c
`
	cfg, _ := manifests(t, docs)
	var got []lambda.BackendSpec
	for _, o := range cfg.Objects {
		b, ok := o.(*lambda.Backend)
		if !ok {
			t.Fatalf("object %T, want *lambda.Backend", o)
		}
		if gvk := b.GetObjectKind().GroupVersionKind(); gvk != lambda.BackendGVK() {
			t.Errorf("%s: kind %v", b.Name, gvk)
		}
		got = append(got, b.Spec)
	}
	want := []lambda.BackendSpec{
		{AWS: &lambda.AWSBackend{
			Region:    "us-east-1",
			SecretRef: &lambda.SecretReference{Name: "aws-creds", Namespace: "kgateway-system"},
			LambdaFunctions: []lambda.LambdaFunction{
				{LambdaFunctionName: "echo", LogicalName: "echo", Qualifier: "$LATEST"},
			},
		}},
		{Type: ptr(lambda.BackendTypeAWS), AWS: &lambda.AWSBackend{
			AccountID: "000000000000",
			Region:    "eu-west-1",
			Auth:      &lambda.AWSAuth{Type: lambda.AWSAuthTypeSecret, SecretRef: &corev1.LocalObjectReference{Name: "creds"}},
			Lambda: &lambda.AWSLambda{
				AccountID:            "123456789012",
				EndpointURL:          ptr("http://127.0.0.1:9001"),
				FunctionName:         "my-function",
				InvocationMode:       lambda.InvocationModeAsync,
				Qualifier:            "3",
				PayloadTransformMode: lambda.PayloadTransformNone,
			},
		}},
		{Static: &lambda.StaticBackend{
			Hosts:       []lambda.Host{{Host: "127.0.0.1", Port: 8080}, {Host: "localhost", Port: 8081}},
			AppProtocol: ptr(lambda.AppProtocolH2C),
		}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("specs (-want +got):\n%s", diff)
	}
}

// TestDeepCopy checks that a copy shares no memory with the original.
func TestDeepCopy(t *testing.T) {
	cfg, _ := manifests(t, currentBackend("echo", "      endpointURL: http://127.0.0.1:1\n")+"\n---\n"+seedManifests)
	for _, o := range cfg.Objects {
		b := o.(*lambda.Backend)
		var c runtime.Object = b.DeepCopyObject()
		cp := c.(*lambda.Backend)
		if cp == b {
			t.Fatal("DeepCopyObject returned the same object")
		}
		if diff := cmp.Diff(b, cp); diff != "" {
			t.Fatalf("copy differs (-orig +copy):\n%s", diff)
		}
		if a := cp.Spec.AWS; a.Lambda != nil {
			*a.Lambda.EndpointURL = "changed"
			a.Lambda.FunctionName = "changed"
		} else {
			a.LambdaFunctions[0].LogicalName = "changed"
			a.SecretRef.Name = "changed"
		}
		if a := b.Spec.AWS; (a.Lambda != nil && (*a.Lambda.EndpointURL == "changed" || a.Lambda.FunctionName == "changed")) ||
			(a.Lambda == nil && (a.LambdaFunctions[0].LogicalName == "changed" || a.SecretRef.Name == "changed")) {
			t.Errorf("changing the copy of %s changed the original", b.Name)
		}
	}
	var nilBackend *lambda.Backend
	if nilBackend.DeepCopy() != nil || nilBackend.DeepCopyObject() != nil {
		t.Error("the copy of a nil Backend is not nil")
	}
}

// TestValidation checks the error of each invalid Backend, word for word.
func TestValidation(t *testing.T) {
	for _, tc := range []struct {
		name, spec, want string
	}{
		{
			name: "empty spec",
			spec: `{}`,
			want: `backend default/b: spec: Required value: one of aws or static is required`,
		},
		{
			name: "both kinds",
			spec: `{aws: {lambda: {functionName: f}}, static: {hosts: [{host: h, port: 1}]}}`,
			want: `backend default/b: spec: Forbidden: exactly one of aws and static may be set`,
		},
		{
			name: "type disagrees",
			spec: `{type: Static, aws: {lambda: {functionName: f}}}`,
			want: `backend default/b: spec.static: Required value: static backend must be specified when type is 'Static'`,
		},
		{
			name: "unsupported type",
			spec: `{type: GCP}`,
			want: `backend default/b: spec.type: Unsupported value: "GCP": supported values: "AWS", "Static"`,
		},
		{
			name: "no function",
			spec: `{aws: {region: us-east-1}}`,
			want: `backend default/b: spec.aws.lambda: Required value: one of lambda or lambdaFunctions is required`,
		},
		{
			name: "both shapes",
			spec: `{aws: {lambda: {functionName: f}, lambdaFunctions: [{lambdaFunctionName: f, logicalName: f}]}}`,
			want: `backend default/b: spec.aws.lambdaFunctions: Forbidden: lambda and lambdaFunctions cannot both be set`,
		},
		{
			name: "current shape, every field wrong",
			spec: `{aws: {region: US, accountId: "12", lambda: {functionName: "a/b", qualifier: "$NEXT", invocationMode: Later, payloadTransformMode: Gzip, endpointURL: "ftp://x", accountId: "x"}}}`,
			want: `backend default/b: spec.aws.region: Invalid value: "US": must match ^[a-z0-9-]{1,63}$; ` +
				`spec.aws.accountId: Invalid value: "12": must be 12 digits; ` +
				`spec.aws.lambda.functionName: Invalid value: "a/b": must match ^[A-Za-z0-9-_]{1,140}$; ` +
				`spec.aws.lambda.qualifier: Invalid value: "$NEXT": must be $LATEST, a version number or an alias name; ` +
				`spec.aws.lambda.accountId: Invalid value: "x": must be 12 digits; ` +
				`spec.aws.lambda.invocationMode: Unsupported value: "Later": supported values: "Sync", "Async"; ` +
				`spec.aws.lambda.payloadTransformMode: Unsupported value: "Gzip": supported values: "Envoy", "None"; ` +
				`spec.aws.lambda.endpointURL: Invalid value: "ftp://x": must be an http:// or https:// URL`,
		},
		{
			name: "current shape, no function name",
			spec: `{aws: {lambda: {qualifier: "1"}}}`,
			want: `backend default/b: spec.aws.lambda.functionName: Required value`,
		},
		{
			name: "seed shape, bad functions",
			spec: `{aws: {secretRef: {name: ""}, lambdaFunctions: [{lambdaFunctionName: f, logicalName: x}, {lambdaFunctionName: "", logicalName: x, qualifier: "a b"}, {lambdaFunctionName: g}]}}`,
			want: `backend default/b: spec.aws.lambdaFunctions[1].lambdaFunctionName: Required value; ` +
				`spec.aws.lambdaFunctions[1].qualifier: Invalid value: "a b": must be $LATEST, a version number or an alias name; ` +
				`spec.aws.lambdaFunctions[1].logicalName: Duplicate value: "x"; ` +
				`spec.aws.lambdaFunctions[2].logicalName: Required value; ` +
				`spec.aws.secretRef.name: Required value`,
		},
		{
			name: "auth",
			spec: `{aws: {lambda: {functionName: f}, auth: {type: Secret, assumeRole: {roleArn: "arn:aws:iam::123456789012:role/r"}}}}`,
			want: `backend default/b: spec.aws.auth.secretRef: Required value: secretRef must be specified when type is 'Secret'; ` +
				`spec.aws.auth.assumeRole: Forbidden: assumeRole must be nil if the type is not 'AssumeRole'`,
		},
		{
			name: "auth role",
			spec: `{aws: {lambda: {functionName: f}, auth: {type: AssumeRole, assumeRole: {roleArn: "role"}}}}`,
			want: `backend default/b: spec.aws.auth.assumeRole.roleArn: Required value: an IAM role ARN must be specified when type is 'AssumeRole'`,
		},
		{
			name: "auth type",
			spec: `{aws: {lambda: {functionName: f}, auth: {type: IRSA}}}`,
			want: `backend default/b: spec.aws.auth.type: Unsupported value: "IRSA": supported values: "Secret", "AssumeRole"`,
		},
		{
			name: "static",
			spec: `{static: {hosts: [{host: "", port: 80}, {host: "a b", port: 0}]}}`,
			want: `backend default/b: spec.static.hosts[0].host: Required value; ` +
				`spec.static.hosts[1].host: Invalid value: "a b": must be a host name or IP address; ` +
				`spec.static.hosts[1].port: Invalid value: 0: must be between 1 and 65535`,
		},
		{
			name: "static without hosts",
			spec: `{static: {}}`,
			want: `backend default/b: spec.static.hosts: Required value: at least one host is required`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _ := manifests(t, "apiVersion: gateway.kgateway.dev/v1alpha1\nkind: Backend\nmetadata: {name: b, namespace: default}\nspec: "+tc.spec+"\n")
			_, err := lambda.New(lambda.Options{Local: true}).NewBackend(cfg.Objects[0].(*lambda.Backend))
			if err == nil {
				t.Fatal("no error")
			}
			if diff := cmp.Diff(tc.want, err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRouterReportsInvalidBackend checks that a Router degrades the
// backendRef of an invalid Backend and says why in its Status.
func TestRouterReportsInvalidBackend(t *testing.T) {
	cfg, _ := manifests(t, currentBackend("a/b", ""))
	cfg.Strict = false
	cfg.Extensions = lambda.Extensions(lambda.Options{Local: true})
	cfg.IgnoreParentRefs = true // the seed's routes name a Gateway the tests do not load
	rt, err := httproute.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	res := serve(t, rt, "GET", "http://example.com/", nil, nil)
	if res.StatusCode != 500 {
		t.Errorf("status %d, want 500", res.StatusCode)
	}
	found := false
	for _, rs := range rt.Status().HTTPRoutes {
		for _, ps := range rs.Parents {
			for _, c := range ps.Conditions {
				if c.Type == "ResolvedRefs" && strings.Contains(c.Message, `spec.aws.lambda.functionName: Invalid value: "a/b"`) {
					found = true
				}
			}
		}
	}
	if !found {
		t.Errorf("no ResolvedRefs condition names the invalid field: %+v", rt.Status().HTTPRoutes)
	}
}

// TestCredentials checks where a Backend's credentials come from.
func TestCredentials(t *testing.T) {
	cfg, secrets := manifests(t, seedManifests+"\n---\n"+seedSecret)
	seed := cfg.Objects[0].(*lambda.Backend)

	t.Run("secret named but not supplied", func(t *testing.T) {
		_, err := lambda.New(lambda.Options{}).NewBackend(seed)
		want := "backend kgateway-system/lambda: the Backend names Secret kgateway-system/aws-creds for its AWS credentials but it is not in the Router's Config and no credentials were supplied for it: add the Secret to httproute.Config.Secrets or set lambda.Options.Credentials"
		if err == nil || err.Error() != want {
			t.Errorf("error %v, want %q", err, want)
		}
	})
	t.Run("secret in another namespace refused by SecretCredentials", func(t *testing.T) {
		// SecretCredentials cannot check ReferenceGrants: a Backend of one
		// namespace must not sign with another namespace's keys through it.
		tenant := seed.DeepCopyObject().(*lambda.Backend)
		tenant.Namespace = "tenant"
		_, err := lambda.New(lambda.Options{Credentials: lambda.SecretCredentials(secrets)}).NewBackend(tenant)
		if err == nil || !strings.Contains(err.Error(), "cannot check ReferenceGrants") {
			t.Errorf("error %v, want a refusal of the cross-namespace Secret", err)
		}
	})
	t.Run("secretRef mixed with auth is refused", func(t *testing.T) {
		mixed := seed.DeepCopyObject().(*lambda.Backend)
		mixed.Spec.AWS.Auth = &lambda.AWSAuth{Type: lambda.AWSAuthTypeAssumeRole, AssumeRole: &lambda.AWSAssumeRole{RoleARN: "arn:aws:iam::123456789012:role/invoker"}}
		_, err := lambda.New(lambda.Options{Credentials: lambda.SecretCredentials(secrets)}).NewBackend(mixed)
		if err == nil || !strings.Contains(err.Error(), "spec.aws.secretRef: Forbidden") {
			t.Errorf("error %v, want spec.aws.secretRef forbidden next to auth", err)
		}
	})
	t.Run("secret missing", func(t *testing.T) {
		_, err := lambda.New(lambda.Options{Credentials: lambda.SecretCredentials(nil)}).NewBackend(seed)
		want := "backend kgateway-system/lambda: secret kgateway-system/aws-creds not found"
		if err == nil || err.Error() != want {
			t.Errorf("error %v, want %q", err, want)
		}
	})
	t.Run("secret without keys", func(t *testing.T) {
		s := secrets[0].DeepCopy()
		delete(s.StringData, "secretKey")
		_, err := lambda.New(lambda.Options{Credentials: lambda.SecretCredentials([]*corev1.Secret{s})}).NewBackend(seed)
		want := `backend kgateway-system/lambda: secret kgateway-system/aws-creds has no "accessKey" or no "secretKey" key`
		if err == nil || err.Error() != want {
			t.Errorf("error %v, want %q", err, want)
		}
	})
	t.Run("secret supplied", func(t *testing.T) {
		var asked []lambda.CredentialsRef
		creds := lambda.SecretCredentials(secrets)
		_, err := lambda.New(lambda.Options{Credentials: func(ref lambda.CredentialsRef) (aws.CredentialsProvider, error) {
			asked = append(asked, ref)
			return creds(ref)
		}}).NewBackend(seed)
		if err != nil {
			t.Fatal(err)
		}
		want := []lambda.CredentialsRef{{
			Backend: types.NamespacedName{Namespace: "kgateway-system", Name: "lambda"},
			Secret:  types.NamespacedName{Namespace: "kgateway-system", Name: "aws-creds"},
		}}
		if diff := cmp.Diff(want, asked); diff != "" {
			t.Errorf("Credentials called with (-want +got):\n%s", diff)
		}
	})
	t.Run("host error", func(t *testing.T) {
		_, err := lambda.New(lambda.Options{Credentials: func(lambda.CredentialsRef) (aws.CredentialsProvider, error) {
			return nil, errors.New("vault sealed")
		}}).NewBackend(seed)
		if err == nil || err.Error() != "backend kgateway-system/lambda: vault sealed" {
			t.Errorf("error %v", err)
		}
	})
	t.Run("local needs none", func(t *testing.T) {
		if _, err := lambda.New(lambda.Options{Local: true, Endpoint: "http://127.0.0.1:1"}).NewBackend(seed); err != nil {
			t.Error(err)
		}
	})
}

package lambda

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/httproute/httproute"
)

// A CredentialsRef is what a Backend names as its AWS identity, for
// Options.Credentials to turn into credentials. In a cluster kgateway reads
// the Secret itself; an embedded Router has no API server, so the host
// supplies what stands in for it.
type CredentialsRef struct {
	// Backend is the Backend that needs credentials.
	Backend types.NamespacedName
	// Secret is the Secret the Backend names (spec.aws.secretRef, or
	// spec.aws.auth.secretRef with auth type Secret); its Name is empty
	// when the Backend names none.
	Secret types.NamespacedName
	// RoleARN is spec.aws.auth.assumeRole.roleArn, empty when the Backend
	// assumes no role.
	RoleARN string
}

// The keys of a credentials Secret, as kgateway reads them.
const (
	SecretKeyAccessKey    = "accessKey"
	SecretKeySecretKey    = "secretKey"
	SecretKeySessionToken = "sessionToken"
)

// SecretCredentials returns an Options.Credentials function that reads the
// Secret a Backend names from secrets, the way kgateway does: keys
// accessKey and secretKey are required, sessionToken is optional; each is
// read from Data, or from StringData when Data lacks it. For a Backend that
// names no Secret it returns no provider, leaving the choice to the default
// (see Options.Credentials).
//
// The Secrets are read once, when the function is called for a Backend,
// that is when a Router compiles its Config.
//
// It cannot see ReferenceGrants, so it refuses a Secret in another
// namespace than the Backend's. A Router reads the Secrets of its own
// Config without this function, honouring ReferenceGrants: prefer that
// (leave Options.Credentials nil) when Backends and Secrets live in
// different namespaces.
func SecretCredentials(secrets []*corev1.Secret) func(CredentialsRef) (aws.CredentialsProvider, error) {
	return func(ref CredentialsRef) (aws.CredentialsProvider, error) {
		if ref.Secret.Name == "" {
			return nil, nil
		}
		if ref.Secret.Namespace != ref.Backend.Namespace {
			return nil, fmt.Errorf("secret %s is in another namespace than Backend %s: SecretCredentials cannot check ReferenceGrants; put the Secret in httproute.Config.Secrets with a ReferenceGrant and leave lambda.Options.Credentials nil",
				ref.Secret, ref.Backend)
		}
		for _, s := range secrets {
			if s != nil && s.Namespace == ref.Secret.Namespace && s.Name == ref.Secret.Name {
				return secretProvider(s)
			}
		}
		return nil, fmt.Errorf("secret %s not found", ref.Secret)
	}
}

// secretProvider reads AWS credentials from a Secret as kgateway does.
func secretProvider(s *corev1.Secret) (aws.CredentialsProvider, error) {
	get := func(key string) string {
		if v, ok := s.Data[key]; ok {
			return string(v)
		}
		return s.StringData[key]
	}
	access, secret := get(SecretKeyAccessKey), get(SecretKeySecretKey)
	if access == "" || secret == "" {
		return nil, fmt.Errorf("secret %s/%s has no %q or no %q key", s.Namespace, s.Name, SecretKeyAccessKey, SecretKeySecretKey)
	}
	return credentials.NewStaticCredentialsProvider(access, secret, get(SecretKeySessionToken)), nil
}

// StaticCredentials returns an Options.Credentials function that gives
// every Backend the same access key, whatever Secret it names.
func StaticCredentials(accessKey, secretKey, sessionToken string) func(CredentialsRef) (aws.CredentialsProvider, error) {
	p := credentials.NewStaticCredentialsProvider(accessKey, secretKey, sessionToken)
	return func(CredentialsRef) (aws.CredentialsProvider, error) { return p, nil }
}

// credentialsRef is what b names as its identity.
func credentialsRef(b *Backend) CredentialsRef {
	ref := CredentialsRef{Backend: types.NamespacedName{Namespace: b.Namespace, Name: b.Name}}
	a := b.Spec.AWS
	if a.SecretRef != nil {
		ref.Secret = types.NamespacedName{Namespace: a.SecretRef.Namespace, Name: a.SecretRef.Name}
		if ref.Secret.Namespace == "" {
			ref.Secret.Namespace = b.Namespace
		}
	}
	if a.Auth != nil {
		if a.Auth.SecretRef != nil {
			ref.Secret = types.NamespacedName{Namespace: b.Namespace, Name: a.Auth.SecretRef.Name}
		}
		if a.Auth.AssumeRole != nil {
			ref.RoleARN = a.Auth.AssumeRole.RoleARN
		}
	}
	return ref
}

// credentialsFor resolves the credentials of a Backend: the host's first,
// then the Secret the Backend names when the Router's Config holds it
// (lookup, from httproute.ObjectRef.Secret; nil when the Backend is built
// outside a Router), then the documented defaults.
func (p *Provider) credentialsFor(ref CredentialsRef, region string, lookup func(ns, name string) (*corev1.Secret, error)) (aws.CredentialsProvider, error) {
	if p.opts.Credentials != nil {
		c, err := p.opts.Credentials(ref)
		if err != nil {
			return nil, err
		}
		if c != nil {
			return c, nil
		}
	}
	if ref.Secret.Name != "" && lookup != nil {
		s, err := lookup(ref.Secret.Namespace, ref.Secret.Name)
		switch {
		case err == nil:
			return secretProvider(s)
		case errors.Is(err, httproute.ErrNotFound) && p.opts.Local:
			// A local emulator needs no credentials.
		default:
			return nil, err
		}
	}
	if p.opts.Local {
		// Local emulators do not check signatures, and a Local provider
		// never reaches for the host's AWS identity.
		return aws.AnonymousCredentials{}, nil
	}
	if ref.Secret.Name != "" {
		return nil, fmt.Errorf("the Backend names Secret %s for its AWS credentials but it is not in the Router's Config and no credentials were supplied for it: add the Secret to httproute.Config.Secrets or set lambda.Options.Credentials", ref.Secret)
	}
	cfg, err := p.defaultConfig()
	if err != nil {
		return nil, err
	}
	if ref.RoleARN != "" {
		return assumeRole(cfg, ref.RoleARN, region, p.httpClient), nil
	}
	return cfg.Credentials, nil
}

// defaultConfig loads the SDK's default configuration once per Provider.
// Loading reads the environment and the shared config files; the
// credentials themselves are fetched when the first invoke needs them.
func (p *Provider) defaultConfig() (aws.Config, error) {
	p.cfgOnce.Do(func() {
		p.cfg, p.cfgErr = config.LoadDefaultConfig(context.Background())
		if p.cfgErr != nil {
			p.cfgErr = fmt.Errorf("loading the AWS SDK's default configuration: %w", p.cfgErr)
		}
	})
	return p.cfg, p.cfgErr
}

// assumeRole returns cached credentials of roleARN, assumed through STS in
// region with the default credentials of cfg.
func assumeRole(cfg aws.Config, roleARN, region string, client *http.Client) aws.CredentialsProvider {
	stsClient := sts.NewFromConfig(cfg, func(o *sts.Options) {
		o.Region = region
		o.HTTPClient = client
	})
	return aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(stsClient, roleARN))
}

package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/endpointslice"
	"github.com/httproute/httproute/extension/directresponse"
	"github.com/httproute/httproute/extension/lambda"
	"github.com/httproute/httproute/extension/regexrewrite"
	"github.com/httproute/httproute/manifest"
	"github.com/httproute/httproute/validation"
)

// loadFlags are the flags that say how manifests are read and what their
// extension kinds do, shared by serve, check and explain so that the three
// read a configuration alike.
type loadFlags struct {
	experimental   bool
	lambdaEndpoint string
	lambdaLocal    bool
}

func (f *loadFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&f.experimental, "experimental", false,
		"validate against the experimental channel's CRDs (XBackend, retry, sessionPersistence ...); default standard")
	fs.StringVar(&f.lambdaEndpoint, "lambda-endpoint", "",
		"base `URL` of the Lambda API for kgateway Backends that name no endpointURL (default AWS's regional endpoint)")
	fs.BoolVar(&f.lambdaLocal, "lambda-local", false,
		"Lambda is a local emulator: unsigned invokes without credentials, one at a time per endpoint")
}

// check reports a flag value that cannot work.
func (f *loadFlags) check() error {
	if f.lambdaEndpoint == "" {
		return nil
	}
	u, err := url.Parse(f.lambdaEndpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("invalid value %q for flag -lambda-endpoint: want an http or https URL", f.lambdaEndpoint)
	}
	return nil
}

func (f *loadFlags) channel() validation.Channel {
	if f.experimental {
		return validation.Experimental
	}
	return validation.Standard
}

// extensions are the kinds the binary serves beyond Gateway API's:
// kgateway's DirectResponse, Backend (AWS Lambda and static hosts) and
// Parameter, and the regular-expression rewrite filter. They are given to
// the loader once; the Config it returns carries them to the Router.
func (f *loadFlags) extensions(logger *slog.Logger) []httproute.Extension {
	exts := []httproute.Extension{directresponse.Extension(), regexrewrite.Extension()}
	return append(exts, lambda.Extensions(lambda.Options{
		Endpoint: f.lambdaEndpoint,
		Local:    f.lambdaLocal,
		Logger:   logger,
	})...)
}

// options are the loader's options for these flags.
func (f *loadFlags) options(logger *slog.Logger, extra ...httproute.Extension) manifest.Options {
	return manifest.Options{
		Extensions: append(f.extensions(logger), extra...),
		Channel:    f.channel(),
	}
}

// routerConfig is the Config a Router serves for m: the loaded objects,
// with Service backendRefs resolved over the Services and EndpointSlices
// of the manifests, as in a cluster.
func routerConfig(m *manifest.Manifests, services *endpointslice.Resolver) httproute.Config {
	cfg := m.Config
	cfg.Services = services.For(m.Services, m.EndpointSlices)
	return cfg
}

// stringsFlag collects the values of a repeatable flag.
type stringsFlag []string

func (s *stringsFlag) String() string { return strings.Join(*s, ",") }

func (s *stringsFlag) Set(v string) error {
	if v == "" {
		return fmt.Errorf("empty value")
	}
	*s = append(*s, v)
	return nil
}

// flatten lists the problems of an error tree.
func flatten(err error) []error {
	if err == nil {
		return nil
	}
	var out []error
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		out = append(out, err)
	}
	walk(err)
	return out
}

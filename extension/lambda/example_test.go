package lambda_test

import (
	"fmt"
	"log"
	"net/http/httptest"
	"strings"

	corev1 "k8s.io/api/core/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/extension/lambda"
)

// The seed's lambda Backend and route, loaded from YAML and served by a
// Router with the extensions registered. Options.Local keeps the Router
// from ever calling AWS: without an emulator's address in Options.Endpoint
// the route answers 503 and says what to configure. With one, for example
// the AWS Lambda Runtime Interface Emulator started as
//
//	aws-lambda-rie --runtime-interface-emulator-address 127.0.0.1:9001 \
//	    --runtime-api-address 127.0.0.1:9002 ./my-function
//
// and the options
//
//	lambda.Options{Local: true, Endpoint: "http://127.0.0.1:9001", FunctionName: "function"}
//
// the same request reaches the function.
func Example() {
	const seed = `
apiVersion: gateway.kgateway.dev/v1alpha1
kind: Backend
metadata:
  name: lambda
  namespace: kgateway-system
spec:
  aws:
    region: us-east-1
    secretRef:
      name: aws-creds
      namespace: kgateway-system
    lambdaFunctions:
    - lambdaFunctionName: echo
      logicalName: echo
      qualifier: $LATEST
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: lambda
  namespace: kgateway-system
spec:
  parentRefs:
    - name: http
  rules:
  - matches:
    - path:
        type: PathPrefix
        value: /echo
    backendRefs:
    - name: lambda
      namespace: kgateway-system
      group: gateway.kgateway.dev
      kind: Backend
      filters:
        - type: ExtensionRef
          extensionRef:
            group: "gateway.kgateway.dev"
            kind: Parameter
            name: echo
`
	// A host program would read these with the manifest package; the
	// example decodes its two documents itself.
	docs := strings.Split(seed, "\n---\n")
	backend := &lambda.Backend{}
	route := &gatewayv1.HTTPRoute{}
	if err := yaml.UnmarshalStrict([]byte(docs[0]), backend); err != nil {
		log.Fatal(err)
	}
	if err := yaml.UnmarshalStrict([]byte(docs[1]), route); err != nil {
		log.Fatal(err)
	}
	router, err := httproute.New(httproute.Config{
		HTTPRoutes: []*gatewayv1.HTTPRoute{route},
		Objects:    []httproute.Object{backend},
		Extensions: lambda.Extensions(lambda.Options{Local: true}),
		// The seed's route names a Gateway this example does not load.
		IgnoreParentRefs: true,
	})
	if err != nil {
		log.Fatal(err)
	}

	rec := httptest.NewRecorder()
	router.ServeHTTP(rec, httptest.NewRequest("GET", "http://example.com/echo", nil))
	fmt.Println(rec.Code)
	fmt.Print(strings.ReplaceAll(rec.Body.String(), ". ", ".\n"))
	// Output:
	// 503
	// lambda: Backend kgateway-system/lambda has no Lambda endpoint to invoke: lambda.Options.Local is set and neither lambda.Options.Endpoint nor spec.aws.lambda.endpointURL names one.
	// Start a local Lambda emulator (such as the AWS Lambda Runtime Interface Emulator) and set lambda.Options.Endpoint to its address, for example http://127.0.0.1:9001.
}

// A host program serving AWS with credentials from Secrets of its own,
// which it keeps out of the Router's Config: SecretCredentials reads them
// for Backends of the same namespace. (Secrets in the Config are read by
// the Router itself, ReferenceGrants honoured, with no Credentials set.)
func ExampleSecretCredentials() {
	var cfg httproute.Config   // filled from manifests
	var vault []*corev1.Secret // kept apart from cfg.Secrets
	cfg.Extensions = lambda.Extensions(lambda.Options{
		Credentials: lambda.SecretCredentials(vault),
	})
	router, err := httproute.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	_ = router
}

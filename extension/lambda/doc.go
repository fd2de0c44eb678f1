// Package lambda serves kgateway's Backend kind (group gateway.kgateway.dev,
// version v1alpha1) and its Parameter filter kind in an httproute Router: a
// backendRef to a Backend sends requests to an AWS Lambda function or to a
// static list of hosts.
//
// It is a module of its own, so that the AWS SDK it uses never enters the
// root module of httproute.
//
// # Registering
//
// Extensions returns the two extensions to add to httproute.Config:
//
//	cfg.Extensions = append(cfg.Extensions, lambda.Extensions(lambda.Options{})...)
//
// The Backend kind has objects: manifests decode into *Backend, whose JSON
// names are those of kgateway's CRD, and Config.Objects carries them. The
// Parameter kind has none: an ExtensionRef to it is resolved by its name.
// A Backend that fails validation leaves its backendRefs unresolved, with
// every field at fault named in the route's ResolvedRefs condition:
//
//	backend default/fn: spec.aws.lambda.functionName: Invalid value: "a/b": must match ^[A-Za-z0-9-_]{1,140}$
//
// # Backends
//
// spec.aws invokes a Lambda function. Two shapes are accepted. kgateway's
// current one names one function:
//
//	spec:
//	  aws:
//	    region: us-east-1          # the default
//	    accountId: "123456789012"  # or under lambda; without it the function is invoked by name
//	    auth: {type: Secret, secretRef: {name: aws-creds}}  # or AssumeRole, or none
//	    lambda:
//	      functionName: echo
//	      qualifier: $LATEST       # the default
//	      invocationMode: Sync     # or Async
//	      payloadTransformMode: Envoy  # or None
//	      endpointURL: http://127.0.0.1:9001  # optional
//
// The earlier shape of the seed manifests lists functions, and an
// ExtensionRef filter of kind Parameter on the backendRef picks one by its
// logicalName (a list of one needs no Parameter); it is always Sync and
// Envoy. The choice is settled when a Router compiles the backendRef: a
// Parameter that names no logicalName of the Backend, more than one
// Parameter, or none where several functions are listed leaves the
// backendRef unresolved (ResolvedRefs False, reason BackendNotFound, the
// message saying which), and its share of traffic answers 500 without an
// invoke:
//
//	spec:
//	  aws:
//	    region: us-east-1
//	    secretRef: {name: aws-creds, namespace: kgateway-system}
//	    lambdaFunctions:
//	    - {lambdaFunctionName: echo, logicalName: echo, qualifier: $LATEST}
//
// spec.static balances requests round robin across hosts (see
// httproute.NewUpstream), over cleartext: appProtocol http2, grpc and
// kubernetes.io/h2c mean HTTP/2 with prior knowledge, kubernetes.io/ws and
// grpc-web HTTP/1.1 (which carries WebSocket upgrades); another value wraps
// httproute.ErrUnsupported, which the Router reports as UnsupportedProtocol.
//
// # Invoking
//
// A request is one invoke, as kgateway configures Envoy's aws_lambda filter:
// POST /2015-03-31/functions/{function}/invocations, where {function} is
// the ARN with its qualifier when the account is known
// (arn:aws:lambda:us-east-1:123456789012:function:echo:$LATEST) and the
// name with its qualifier otherwise (echo:$LATEST); X-Amz-Invocation-Type
// is RequestResponse for Sync and Event for Async. The invoke is made with
// the AWS SDK for Go v2: SigV4-signed, with the SDK's retries off (a
// route's retry policy decides), under the request's context, so that the
// route's timeouts and a client going away end it.
//
// In the Envoy transform mode the payload is the JSON event of Envoy's
// filter (see Event): raw_path, method, headers, query_string_parameters,
// body and is_base64_encoded. The function answers a JSON object (see
// Response) whose statusCode, headers, cookies, body and isBase64Encoded
// become the HTTP response. In the None mode the request body is the
// payload and the function's payload is the response body, as
// application/json. The request body is read whole first, up to
// Options.MaxPayloadBytes.
//
// # Status mapping
//
// Every answer this package writes itself has a text/plain body starting
// with "lambda: " that says what happened; what clients are not shown (a
// failed function's error payload, an AWS error message, which may name the
// account) goes to Options.Logger instead.
//
//	200 (or the function's statusCode)  the function answered
//	202  an Async invoke was accepted; no body
//	413  the request body exceeds MaxPayloadBytes (no invoke), or Lambda
//	     refused the payload as too large (RequestTooLargeException)
//	429  Lambda throttled the invoke (TooManyRequestsException, or any 429);
//	     Retry-After is passed on
//	500  the backendRef is unresolved (the Router's answer; its status
//	     says why), or a Backend called directly, without a Router, is not
//	     told which function of several to invoke (see WithLogicalName)
//	502  the function failed (X-Amz-Function-Error, passed on): "lambda: the
//	     function failed (Unhandled)"
//	502  the function's answer is not a valid response (not a JSON object,
//	     a statusCode outside 200-599, a body marked base64 that is not):
//	     "lambda: the function's answer is not a valid response: ..."
//	502  the Lambda API refused the invoke with another error, such as a
//	     rejected signature: "lambda: the Lambda API refused the invoke:
//	     403 InvalidSignatureException"
//	503  the Lambda endpoint cannot be reached, or Options.Local is set and
//	     no endpoint is configured (the body says how to configure one)
//	504  the route's timeout expired (the Router's answer)
//
// # Credentials
//
// In a cluster kgateway reads the Secret a Backend names. An embedded
// Router reads it from httproute.Config.Secrets (keys accessKey, secretKey,
// sessionToken), honouring ReferenceGrants for a Secret in another
// namespace. Options.Credentials, when set, comes first and may supply
// credentials from elsewhere (StaticCredentials, a vault). A Backend that
// names a Secret found nowhere is unresolved; one that names a role
// assumes it through STS; any other uses the SDK's default chain. See
// Options.Credentials.
//
// # Quick start
//
// The AWS Lambda Runtime Interface Emulator
// (github.com/aws/aws-lambda-runtime-interface-emulator, which runs without
// Docker) serves one function, named "function", at its invoke address. With
//
//	lambda.Options{Local: true, Endpoint: "http://127.0.0.1:9001", FunctionName: "function"}
//
// the seed's lambda route invokes the function the emulator runs, unsigned.
// Local keeps the Router from ever calling AWS: without an Endpoint, the
// route answers 503 with a body that names the option to set. The emulator
// takes one invoke at a time (overlapping ones fail and crash it), so in
// local mode a Provider sends the invokes to each endpoint one at a time:
// parallel requests wait their turn, within their own deadlines.
//
// # Tests
//
// The package's tests build the emulator (a tool dependency of this module)
// and a real function written with github.com/aws/aws-lambda-go
// (internal/testfunction) into a temporary directory with the go command,
// run the emulator with both of its listeners on 127.0.0.1, and put in
// front of it a loopback Lambda API that checks the SigV4 signature of each
// invoke and adds what the emulator lacks: function names, function errors,
// throttling, Event invokes and one invoke at a time.
package lambda

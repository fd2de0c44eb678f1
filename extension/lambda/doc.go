// Package lambda serves kgateway's Backend kind (group gateway.kgateway.dev)
// and its Parameter filter kind in an httproute Router: a backendRef to a
// Backend sends requests to an AWS Lambda function or to a static list of
// hosts.
package lambda

// Command httproute runs Gateway API configurations as a gateway, and
// checks and explains them. It is a thin program over the packages of the
// module: manifest (loading and watching YAML), endpointslice (Services in
// file mode), kube (the cluster source), promroute (metrics) and the
// extension packages; anything it does, a Go program can do with them.
//
//	httproute serve -config PATH... [flags]   serve files and directories, reloading them on change
//	httproute serve -gateway-class NAME       serve a cluster's Gateways (in-cluster, or -kubeconfig)
//	httproute check [flags] PATH...           check manifests like a linter
//	httproute explain -config PATH [-port 80] [-X METHOD] [-H 'Name: value'] URL
//	                                          which Gateway, listener, route, rule and backends serve a request
//
// Run "httproute COMMAND -h" for the flags of a command.
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage: httproute COMMAND [flags]

commands:
  serve    serve Gateways from files and directories (-config), or from a cluster
  check    check manifests the way a cluster and a Router would read them
  explain  tell which Gateway, listener, route, rule and backends would serve a request

Run "httproute COMMAND -h" for the flags of a command.
`

// run is the command: it returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stderr)
	case "check":
		return check(args[1:], stdout, stderr)
	case "explain":
		return explain(args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "httproute: unknown command %q\n%s", args[0], usage)
		return 2
	}
}

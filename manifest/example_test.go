package manifest_test

import (
	"context"
	"embed"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/extension/directresponse"
	"github.com/httproute/httproute/manifest"
)

//go:embed testdata/seed
var seed embed.FS

func ExampleDecode() {
	const routes = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: httpbin
spec:
  rules:
  - matches:
    - queryParams:
      - name: version
        value: 2
    backendRefs:
    - name: httpbin
      port: 8000
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: web
spec:
  rules:
  - backendRefs:
    - name: web
      port: 80
`
	m, err := manifest.Decode(manifest.Options{}, "routes.yaml", strings.NewReader(routes))
	fmt.Println(err)
	for _, r := range m.Config.HTTPRoutes {
		// Loaded objects carry the CRD defaults.
		fmt.Println(r.Namespace, r.Name, *r.Spec.Rules[0].BackendRefs[0].Weight)
	}
	// Output:
	// routes.yaml:10:9: httproute default/httpbin: spec.rules[0].matches[0].queryParams[0].value: Invalid value: "integer": spec.rules[0].matches[0].queryParams[0].value in body must be of type string: "integer"
	// routes.yaml:1:1: httproute default/httpbin: <nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation
	// default web 1
}

func ExampleManifests_Locate() {
	const route = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: web
spec:
  rules:
  - backendRefs:
    - name: web
      port: 80
`
	m, err := manifest.Decode(manifest.Options{}, "route.yaml", strings.NewReader(route))
	if err != nil {
		fmt.Println(err)
		return
	}
	// A problem found later, by httproute.New with Config.Strict or by
	// validation.Warnings, names the object and the field; Locate adds
	// where the manifest writes it.
	err = &httproute.Error{
		Kind: "HTTPRoute", Namespace: "default", Name: "web", Reason: "BackendNotFound",
		Field: field.NotFound(field.NewPath("spec", "rules").Index(0).Child("backendRefs").Index(0), "web"),
	}
	fmt.Println(m.Locate(err))
	// Output:
	// route.yaml:8:7: httproute default/web: spec.rules[0].backendRefs[0]: Not found: "web"
}

// A gateway that serves a directory of manifests and reloads it when it
// changes. A configuration that does not load, or that a guard refuses,
// keeps the routing table that serves; the last problem is in Status.
func ExampleWatcher() {
	router, err := httproute.New(httproute.Config{})
	if err != nil {
		log.Fatal(err)
	}
	w, err := manifest.NewWatcher(manifest.WatchConfig{
		Paths:   []string{"/etc/httproute"},
		Options: manifest.Options{Extensions: []httproute.Extension{directresponse.Extension()}},
		Apply: func(m *manifest.Manifests) error {
			cfg := m.Config // its Extensions are those of the Options
			cfg.Services = httproute.Services{}
			return router.Update(cfg)
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := w.Reload(); err != nil {
		log.Print(err) // serve what there is; Run keeps trying
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	go func() {
		if err := w.Run(ctx); err != nil {
			log.Print(err)
		}
	}()
	http.Handle("/", router)
	http.HandleFunc("/status", func(rw http.ResponseWriter, _ *http.Request) {
		if err := w.Status().Err; err != nil {
			fmt.Fprintln(rw, "last reload failed:", err)
		}
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", nil))
}

// A configuration embedded in the binary.
func ExampleLoadFS() {
	m, err := manifest.LoadFS(manifest.Options{}, seed, "testdata/seed/01-httproute-httpbin.yaml")
	fmt.Println(len(m.Config.HTTPRoutes), err)
	// Output:
	// 1 <nil>
}

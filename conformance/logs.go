package conformance

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	k8sfake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/kubernetes/scheme"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	restclient "k8s.io/client-go/rest"
	fakerest "k8s.io/client-go/rest/fake"
)

// clientset is the suite's client-go clientset: the fake one, except that
// pod logs come from the echo backends. The fake's own GetLogs does not
// tell its reactors which Pod is asked for, so a reactor could only answer
// for all replicas at once, and the mirror tests, which read every replica
// and count the lines, would count each mirrored request once per replica.
type clientset struct {
	*k8sfake.Clientset
	logs func(pod types.NamespacedName, container string, since time.Time) ([]byte, error)
}

func (c *clientset) CoreV1() corev1client.CoreV1Interface {
	return coreV1{CoreV1Interface: c.Clientset.CoreV1(), c: c}
}

type coreV1 struct {
	corev1client.CoreV1Interface
	c *clientset
}

func (x coreV1) Pods(ns string) corev1client.PodInterface {
	return pods{PodInterface: x.CoreV1Interface.Pods(ns), ns: ns, c: x.c}
}

type pods struct {
	corev1client.PodInterface
	ns string
	c  *clientset
}

// GetLogs returns a request whose stream is the Pod's log, read when the
// request is sent. Only Container and SinceTime of opts are honoured.
func (p pods) GetLogs(name string, opts *corev1.PodLogOptions) *restclient.Request {
	nn := types.NamespacedName{Namespace: p.ns, Name: name}
	container := ""
	var since time.Time
	if opts != nil {
		container = opts.Container
		if opts.SinceTime != nil {
			since = opts.SinceTime.Time
		}
	}
	rc := &fakerest.RESTClient{
		Client: fakerest.CreateHTTPClient(func(*http.Request) (*http.Response, error) {
			log, err := p.c.logs(nn, container, since)
			if err != nil {
				return &http.Response{
					StatusCode: http.StatusNotFound,
					Header:     http.Header{"Content-Type": {"text/plain"}},
					Body:       io.NopCloser(bytes.NewReader([]byte(err.Error()))),
				}, nil
			}
			return &http.Response{
				StatusCode: http.StatusOK,
				Header:     http.Header{"Content-Type": {"text/plain"}},
				Body:       io.NopCloser(bytes.NewReader(log)),
			}, nil
		}),
		NegotiatedSerializer: scheme.Codecs.WithoutConversion(),
		GroupVersion:         corev1.SchemeGroupVersion,
		VersionedAPIPath:     fmt.Sprintf("/api/v1/namespaces/%s/pods/%s/log", p.ns, name),
	}
	return rc.Request()
}

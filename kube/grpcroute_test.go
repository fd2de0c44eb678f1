package kube

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	pb "sigs.k8s.io/gateway-api-conformance-images/echo-basic/grpcechoserver"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/conformance/grpcecho"
	"github.com/httproute/httproute/internal/echo"
)

// grpcRouteObj is a GRPCRoute attached to a Gateway that sends calls of
// one method of the echo service to a Service's port 80.
func grpcRouteObj(ns, name, gateway, method, service string) *gatewayv1.GRPCRoute {
	return &gatewayv1.GRPCRoute{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: gatewayv1.GRPCRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: gatewayv1.ObjectName(gateway)}}},
			Rules: []gatewayv1.GRPCRouteRule{{
				Matches: []gatewayv1.GRPCRouteMatch{{Method: &gatewayv1.GRPCMethodMatch{
					Service: new(grpcecho.Service), Method: new(method),
				}}},
				BackendRefs: []gatewayv1.GRPCBackendRef{{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{
					Name: gatewayv1.ObjectName(service), Port: new(gatewayv1.PortNumber(80)),
				}}}},
			}},
		},
	}
}

// TestGRPCRoute: the Controller watches GRPCRoutes, serves them on the
// Gateway's plain listener port over h2c (Listeners) to a gRPC backend
// of appProtocol kubernetes.io/h2c, follows an edit of the route, and
// writes the route's parent entry with server-side apply next to another
// controller's, which it keeps.
func TestGRPCRoute(t *testing.T) {
	ctx := context.Background()
	c := adminClients(t)
	ns, class, port := c.servedGateway(t, "grpc")
	backend, err := grpcecho.Start(echo.Info{Namespace: ns, Pod: "grpc-echo-0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(backend.Close)
	c.service(t, ns, "grpc", backend.Addr, httproute.AppProtocolH2C)
	r, err := c.gateway.GatewayV1().GRPCRoutes(ns).Create(ctx, grpcRouteObj(ns, "g", "gw", "EchoTwo", "grpc"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r.Status.Parents = []gatewayv1.RouteParentStatus{foreignParent("elsewhere")}
	if _, err := c.gateway.GatewayV1().GRPCRoutes(ns).UpdateStatus(ctx, r, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	startServing(t, class)

	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", port), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	client := pb.NewGrpcEchoClient(conn)
	// served calls method through the Gateway and reports whether the
	// echo answered it, and else whether the Router answered Unimplemented
	// (no route), with what went otherwise.
	served := func(method string) (answered, unrouted bool, msg string) {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		call := client.Echo
		if method == "EchoTwo" {
			call = client.EchoTwo
		}
		res, err := call(ctx, &pb.EchoRequest{})
		if err != nil {
			return false, status.Code(err) == codes.Unimplemented, fmt.Sprintf("%s: %v", method, err)
		}
		a := res.GetAssertions()
		want := "/" + grpcecho.Service + "/" + method
		return a.GetFullyQualifiedMethod() == want && a.GetContext().GetPod() == "grpc-echo-0", false,
			fmt.Sprintf("%s: answered %s by pod %q", method, a.GetFullyQualifiedMethod(), a.GetContext().GetPod())
	}
	eventually(t, 30*time.Second, func() (bool, string) {
		ok, _, msg := served("EchoTwo")
		return ok, msg
	})
	if ok, unrouted, msg := served("Echo"); ok || !unrouted {
		t.Errorf("a method the route does not match: %s, want the Router's Unimplemented", msg)
	}

	eventually(t, 30*time.Second, func() (bool, string) {
		r, err := c.gateway.GatewayV1().GRPCRoutes(ns).Get(ctx, "g", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		ours := slices.IndexFunc(r.Status.Parents, func(p gatewayv1.RouteParentStatus) bool {
			return p.ControllerName == httproute.DefaultControllerName && meta.IsStatusConditionTrue(p.Conditions, "Accepted") &&
				meta.IsStatusConditionTrue(p.Conditions, "ResolvedRefs")
		})
		theirs := slices.IndexFunc(r.Status.Parents, func(p gatewayv1.RouteParentStatus) bool {
			return cmp.Equal(p, foreignParent("elsewhere"))
		})
		ok := ours >= 0 && theirs >= 0 && len(r.Status.Parents) == 2 && managedBy(r.ManagedFields, FieldManager, "status")
		return ok, fmt.Sprintf("GRPCRoute parents %+v", r.Status.Parents)
	})
	eventually(t, 30*time.Second, func() (bool, string) {
		gw, err := c.gateway.GatewayV1().Gateways(ns).Get(ctx, "gw", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		st := gw.Status.Listeners
		return len(st) == 1 && st[0].AttachedRoutes == 1, fmt.Sprintf("Gateway listeners %+v", st)
	})

	err = retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		r, err := c.gateway.GatewayV1().GRPCRoutes(ns).Get(ctx, "g", metav1.GetOptions{})
		if err != nil {
			return err
		}
		r.Spec.Rules[0].Matches[0].Method.Method = new("Echo")
		_, err = c.gateway.GatewayV1().GRPCRoutes(ns).Update(ctx, r, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() (bool, string) {
		ok, _, msg := served("Echo")
		return ok, msg
	})
	if ok, unrouted, msg := served("EchoTwo"); ok || !unrouted {
		t.Errorf("after the edit, the method no longer matched: %s, want the Router's Unimplemented", msg)
	}
}

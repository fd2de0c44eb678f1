#!/usr/bin/env bash
# Builds the kube-apiserver and etcd binaries that kube/'s tests run, from
# their Go modules (no prebuilt binary can be downloaded here), into a cache
# directory outside the repository, and prints that directory's bin/ path.
# A cache that holds both binaries is reused as it is: a warm run takes
# well under a second; a cold one, several minutes on two cores.
#
#	hack/kube-testenv.sh            # build if missing; print the bin dir
#	KUBE_TESTENV_BIN=$(hack/kube-testenv.sh) go test ./...   # in kube/
#
# The cache is $HTTPROUTE_KUBE_CACHE, or ${XDG_CACHE_HOME:-$HOME/.cache}/httproute-kube,
# one subdirectory per set of versions, so changing a version below builds
# a new set next to the old one.
set -euo pipefail
export GOTOOLCHAIN=go1.27.3 # the toolchain of the repository's modules

# Versions. Kubernetes' staging modules (k8s.io/api, client-go, ...) are
# pinned to the release of the same minor by replace directives: the
# k8s.io/kubernetes module replaces them with ./staging paths that a module
# dependency cannot follow.
k8s_version=v1.37.2
staging_version=v0.37.2
etcd_version=v3.6.16

cache_root=${HTTPROUTE_KUBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/httproute-kube}
dir="$cache_root/kubernetes-$k8s_version-etcd-$etcd_version-$(go env GOVERSION)"
bin="$dir/bin"

if [ -x "$bin/kube-apiserver" ] && [ -x "$bin/etcd" ]; then
	echo "$bin"
	exit 0
fi

mkdir -p "$dir"
# One build at a time per cache directory: two test runs starting cold
# together would otherwise build twice and race on the output.
exec 9>"$dir/.lock"
flock 9
if [ -x "$bin/kube-apiserver" ] && [ -x "$bin/etcd" ]; then
	echo "$bin"
	exit 0
fi

start=$(date +%s)
export CGO_ENABLED=0 GOFLAGS=-mod=mod GOWORK=off

# kube-apiserver: a throwaway module that requires k8s.io/kubernetes and
# replaces every staging module with its published version.
src="$dir/src/kube-apiserver"
mkdir -p "$src"
{
	echo "module httproute.invalid/kube-apiserver"
	echo
	echo "go 1.26.0"
	echo
	echo "require k8s.io/kubernetes $k8s_version"
	echo
	echo "replace ("
	for m in api apiextensions-apiserver apimachinery apiserver cli-runtime client-go \
		cloud-provider cluster-bootstrap code-generator component-base component-helpers \
		controller-manager cri-api cri-client cri-streaming csi-translation-lib \
		dynamic-resource-allocation endpointslice externaljwt kms kube-aggregator \
		kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics \
		mount-utils pod-security-admission sample-apiserver sample-cli-plugin \
		sample-controller streaming; do
		echo "	k8s.io/$m => k8s.io/$m $staging_version"
	done
	echo ")"
} >"$src/go.mod"
# The version the binary reports (kube-apiserver --version, /version), as
# Kubernetes' own build sets it.
ldflags="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	ldflags="$ldflags -X $p.gitVersion=$k8s_version -X $p.gitMajor=1 -X $p.gitMinor=$(echo "$k8s_version" | cut -d. -f2)"
	ldflags="$ldflags -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
done
(
	cd "$src"
	go mod download k8s.io/kubernetes
	go get k8s.io/kubernetes/cmd/kube-apiserver@"$k8s_version" >/dev/null
	go build -trimpath -ldflags "$ldflags" -o "$bin/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver
)

# etcd: its server module is the etcd command itself.
src="$dir/src/etcd"
mkdir -p "$src"
printf 'module httproute.invalid/etcd\n\ngo 1.25.0\n\nrequire go.etcd.io/etcd/server/v3 %s\n' "$etcd_version" >"$src/go.mod"
(
	cd "$src"
	go get go.etcd.io/etcd/server/v3@"$etcd_version" >/dev/null
	go build -trimpath -ldflags "-s -w" -o "$bin/etcd.tmp" go.etcd.io/etcd/server/v3
)

mv "$bin/kube-apiserver.tmp" "$bin/kube-apiserver"
mv "$bin/etcd.tmp" "$bin/etcd"
rm -rf "$dir/src"
echo "built kube-apiserver $k8s_version and etcd $etcd_version in $(($(date +%s) - start))s into $bin" >&2
echo "$bin"

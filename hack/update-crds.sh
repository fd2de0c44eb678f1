#!/usr/bin/env bash
# Copies the Gateway API CRDs of both release channels from the module cache
# into validation/crds, where go:embed can reach them (it cannot reach into
# another module). Run it after changing the gateway-api version in go.mod;
# TestCRDsCurrent in validation/ fails while the copies are stale.
set -euo pipefail
export GOTOOLCHAIN=go1.27.3 # Gateway API v1.7.0 needs Go 1.27

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
version=$(go list -m -f '{{.Version}}' sigs.k8s.io/gateway-api)
go mod download sigs.k8s.io/gateway-api
src="$(go env GOMODCACHE)/sigs.k8s.io/gateway-api@${version}/config/crd"
dst="$root/validation/crds"

for channel in standard experimental; do
	rm -rf "${dst:?}/$channel"
	mkdir -p "$dst/$channel"
	# Only CustomResourceDefinitions: the channel also ships a
	# ValidatingAdmissionPolicy that guards CRD upgrades, not objects.
	for f in "$src/$channel"/*.yaml; do
		if grep -q '^kind: CustomResourceDefinition' "$f"; then
			install -m 0644 "$f" "$dst/$channel/"
		fi
	done
done
echo "$version" > "$dst/VERSION"
echo "copied the CRDs of sigs.k8s.io/gateway-api $version into validation/crds"

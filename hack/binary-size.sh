#!/usr/bin/env bash
# Measures what importing the validation package adds to a program's
# binary: three tiny programs that build a Router from a Config, the second
# also validating it (validation.New(...).Config), the third loading it
# with the manifest package (which validates by default). Prints the sizes
# of normal and stripped (-ldflags=-s -w) builds.
set -euo pipefail
export GOTOOLCHAIN=go1.27.3 # Gateway API v1.7.0 needs Go 1.27

root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d "$root/.binary-size.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

mkdir -p "$tmp/router" "$tmp/validation" "$tmp/manifest"
cat > "$tmp/router/main.go" <<'GO'
package main

import (
	"net/http"

	"github.com/httproute/httproute"
)

func main() {
	rt, err := httproute.New(httproute.Config{})
	if err != nil {
		panic(err)
	}
	_ = http.ListenAndServe("127.0.0.1:0", rt)
}
GO
cat > "$tmp/validation/main.go" <<'GO'
package main

import (
	"net/http"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/validation"
)

func main() {
	cfg := httproute.Config{}
	if err := validation.New(validation.Standard).Config(&cfg); err != nil {
		panic(err)
	}
	rt, err := httproute.New(cfg)
	if err != nil {
		panic(err)
	}
	_ = http.ListenAndServe("127.0.0.1:0", rt)
}
GO
cat > "$tmp/manifest/main.go" <<'GO'
package main

import (
	"net/http"
	"os"

	"github.com/httproute/httproute"
	"github.com/httproute/httproute/manifest"
)

func main() {
	m, err := manifest.Load(manifest.Options{}, os.Args[1:]...)
	if err != nil {
		panic(err)
	}
	rt, err := httproute.New(m.Config)
	if err != nil {
		panic(err)
	}
	_ = http.ListenAndServe("127.0.0.1:0", rt)
}
GO

cd "$root"
printf '%-12s %12s %12s\n' program bytes stripped
for p in router validation manifest; do
	rel=./$(basename "$tmp")/$p
	go build -o "$tmp/$p.bin" "$rel"
	go build -ldflags='-s -w' -o "$tmp/$p.stripped" "$rel"
	printf '%-12s %12d %12d\n' "$p" "$(stat -c %s "$tmp/$p.bin")" "$(stat -c %s "$tmp/$p.stripped")"
done

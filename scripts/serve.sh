#!/usr/bin/env bash
# Starts a Tickwire server on localhost with the default configuration,
# serving the browser client at / (built here: client.wasm and
# wasm_exec.js, and their brotli and gzip forms, into client/web/dist,
# never committed).
# Extra arguments go to the server (see `go run ./cmd/server -h`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_go
dist=client/web/dist
mkdir -p "$dist"
step "building the web client into $dist"
GOOS=js GOARCH=wasm go build -trimpath -ldflags="-s -w" -o "$dist/client.wasm" ./cmd/client
cp "$(go env GOROOT)/lib/wasm/wasm_exec.js" "$dist/wasm_exec.js"
step "compressing it (brotli and gzip; skipped when up to date)"
go run ./cmd/webcompress "$dist"
step "starting the server: open http://localhost:4433/ (desktop: go run ./cmd/client)"
exec go run ./cmd/server -web "$dist" "$@"

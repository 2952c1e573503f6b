#!/usr/bin/env bash
# Builds the server's container image with podman, from binaries built
# here by the local Go toolchain (no registry is needed: the image is
# FROM scratch). The image holds the static server, the browser client
# (compressed) and the CA certificates ACME needs; it runs as user 65532.
# It also holds the bot swarm, /tickwire/bots, for load tests run from a
# cluster (deploy/swarm-job.yaml).
#
#   scripts/image.sh                    # tags tickwire/server:dev
#   scripts/image.sh tickwire/server:1  # another tag
#   podman --runtime runc run --rm --network host tickwire/server:dev
#
# Installs podman, buildah and runc (Debian) if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
tag=${1:-tickwire/server:dev}
ensure_go
ensure_debs podman buildah runc ca-certificates
# crun, or runc's default rlimits, fail on some hosts (a container cannot
# set RLIMIT_NPROC there): no default ulimits.
if [ ! -s /etc/containers/containers.conf ]; then
  as_root mkdir -p /etc/containers
  printf '[containers]\ndefault_ulimits = []\n' | as_root tee /etc/containers/containers.conf >/dev/null
fi

ctx=$(mktemp -d /tmp/tickwire-image.XXXXXX)
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/tickwire/web" "$ctx/etc/ssl/certs" "$ctx/var/lib/tickwire/acme"
step "building the server and the bots (static) and the web client"
CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$ctx/tickwire/server" ./cmd/server
CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$ctx/tickwire/bots" ./cmd/bots
GOOS=js GOARCH=wasm go build -trimpath -ldflags="-s -w" -o "$ctx/tickwire/web/client.wasm" ./cmd/client
cp "$(go env GOROOT)/lib/wasm/wasm_exec.js" "$ctx/tickwire/web/"
go run ./cmd/webcompress "$ctx/tickwire/web"
cp /etc/ssl/certs/ca-certificates.crt "$ctx/etc/ssl/certs/"
step "building the image $tag"
podman build --runtime runc -q -f deploy/Containerfile -t "$tag" "$ctx"

#!/usr/bin/env bash
# Starts a Tickwire server on localhost with the default configuration.
# Extra arguments go to the server (see `go run ./cmd/server -h`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_go
exec go run ./cmd/server "$@"

#!/usr/bin/env bash
# The whole test suite: formatting, vet, race-enabled tests, and a short
# fixed-time run of every fuzz target. Installs what it needs (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_go
ensure_debs redis-server # the Redis directory's tests (cmd/server, netcode/server/directory/redisdir)
# The client's end-to-end tests: Xvfb + xwd (desktop screenshots), Chromium, certutil (to trust a test CA) and nft (to drop a test host's UDP), Ebiten's cgo packages.
ensure_debs xvfb xauth x11-apps chromium libnss3-tools nftables libc6-dev libgl1-mesa-dev libxcursor-dev libxi-dev libxinerama-dev libxrandr-dev libxxf86vm-dev libasound2-dev pkg-config
export GOFLAGS="${GOFLAGS:-} -mod=readonly"

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

step "third_party/quic-go"
./scripts/vendor-quic-go -check

step "go vet"
go vet ./...
# The browser build (cmd/client for js/wasm) and the packages it is made
# of; the rest of the tree (the server, native sockets) is not for js.
GOOS=js GOARCH=wasm go vet $(GOOS=js GOARCH=wasm go list -deps ./cmd/client | grep '^github.com/tickwire/')

step "go test -race"
go test -race -count=1 -timeout 20m ./...

# fuzz_once PKG TARGET: 0 passed, 1 found something, 2 hit Go 1.26's
# fuzztime shutdown race (golang/go#75804: a bare "context deadline
# exceeded" at the end of the window, no failing input written).
fuzz_once() {
  local log
  log=$(mktemp)
  if go test -run='^$' -fuzz="^$2\$" -fuzztime="$FUZZTIME" "$1" >"$log" 2>&1; then
    rm -f "$log"; return 0
  fi
  if grep -q 'context deadline exceeded' "$log" && ! grep -q 'Failing input written' "$log"; then
    rm -f "$log"; return 2
  fi
  cat "$log"; rm -f "$log"; return 1
}

step "fuzz (${FUZZTIME:=10s} per target)"
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    echo "fuzz $pkg $target"
    rc=0; fuzz_once "$pkg" "$target" || rc=$?
    if [ "$rc" = 2 ]; then
      echo "  fuzzing stopped on Go's deadline race, not on an input; running it again"
      rc=0; fuzz_once "$pkg" "$target" || rc=$?
      if [ "$rc" = 2 ]; then echo "  the deadline race again: no failing input found"; rc=0; fi
    fi
    [ "$rc" = 0 ] || exit 1
  done
done
echo "all checks passed"

#!/usr/bin/env bash
# The whole test suite: formatting, vet, race-enabled tests, and a short
# fixed-time run of every fuzz target. Installs what it needs (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_go
ensure_debs redis-server # the room directory's integration test (cmd/server)
export GOFLAGS="${GOFLAGS:-} -mod=readonly"

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

step "go vet"
go vet ./...

step "go test -race"
go test -race -count=1 -timeout 20m ./...

step "fuzz (${FUZZTIME:=10s} per target)"
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    echo "fuzz $pkg $target"
    go test -run='^$' -fuzz="^${target}\$" -fuzztime="$FUZZTIME" "$pkg" >/tmp/tickwire-fuzz.log 2>&1 || { cat /tmp/tickwire-fuzz.log; exit 1; }
  done
done
echo "all checks passed"

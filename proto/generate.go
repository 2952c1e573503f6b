// Package proto holds Tickwire's wire schema (tickwire/v1/tickwire.proto)
// and the Go code generated from it, committed so that users need no protoc.
//
// Regenerate with `go generate ./proto/...`. It needs protoc (Debian's
// protobuf-compiler); protoc-gen-go is built from the version pinned in
// go.mod, so the output depends only on the repository.
package proto

//go:generate sh -c "go build -o \"${TMPDIR:-/tmp}/tickwire-protoc-gen-go\" google.golang.org/protobuf/cmd/protoc-gen-go && protoc --plugin=protoc-gen-go=\"${TMPDIR:-/tmp}/tickwire-protoc-gen-go\" --go_out=. --go_opt=paths=source_relative tickwire/v1/tickwire.proto"

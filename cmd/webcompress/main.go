// Command webcompress writes the brotli and gzip forms of the built web
// client (client.wasm, wasm_exec.js) beside it, for the server to send
// compressed. scripts/serve.sh runs it after building the client.
//
//	go run ./cmd/webcompress client/web/dist
package main

import (
	"fmt"
	"os"

	"github.com/tickwire/tickwire/client/web"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: webcompress DIR")
		os.Exit(2)
	}
	if err := web.Compress(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "webcompress:", err)
		os.Exit(1)
	}
}

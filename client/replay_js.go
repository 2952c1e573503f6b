//go:build js

package client

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"syscall/js"

	"github.com/tickwire/tickwire/netcode/replay"
)

// loadReplay fetches recording Config.Replay from the server's
// /replays, asking for it uncompressed (the browser build has no zstd;
// the transfer is gzipped instead).
func loadReplay(ctx context.Context, cfg Config) ([]byte, error) {
	u := strings.TrimSuffix(cfg.Server, "/") + replay.Path + "/" + url.PathEscape(cfg.Replay) + "?" + replay.StoredRaw
	abort := js.Global().Get("AbortController").New()
	init := js.Global().Get("Object").New()
	init.Set("signal", abort.Get("signal"))
	resp, err := awaitJS(ctx, abort, js.Global().Call("fetch", u, init))
	if err != nil {
		return nil, fmt.Errorf("replay: GET %s: %w", u, err)
	}
	if status := resp.Get("status").Int(); status != 200 {
		text, _ := awaitJS(ctx, abort, resp.Call("text"))
		return nil, fmt.Errorf("replay: GET %s: %d %s", u, status, strings.TrimSpace(text.String()))
	}
	buf, err := awaitJS(ctx, abort, resp.Call("arrayBuffer"))
	if err != nil {
		return nil, fmt.Errorf("replay: GET %s: reading: %w", u, err)
	}
	arr := js.Global().Get("Uint8Array").New(buf)
	b := make([]byte, arr.Get("length").Int())
	js.CopyBytesToGo(b, arr)
	return b, nil
}

//go:build js

package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"syscall/js"

	"github.com/tickwire/tickwire/netcode/lobby"
)

// fetchLobby calls the lobby with the browser's fetch; its answers and
// errors are lobby.Client's (a refusal is a *lobby.Error, an unreachable
// server a *url.Error), so the lobby screen reads them alike.
type fetchLobby struct{ base, key string }

func newLobbyAPI(base, key string) lobbyAPI {
	return &fetchLobby{base: strings.TrimSuffix(base, "/"), key: key}
}

func (f *fetchLobby) Rooms(ctx context.Context) ([]lobby.Room, error) {
	var out lobby.Rooms
	err := f.do(ctx, http.MethodGet, lobby.PathRooms, nil, &out)
	return out.Rooms, err
}

func (f *fetchLobby) Create(ctx context.Context, req lobby.CreateRequest) (lobby.Room, error) {
	var out lobby.Room
	return out, f.do(ctx, http.MethodPost, lobby.PathRooms, req, &out)
}

func (f *fetchLobby) Join(ctx context.Context, id string, req lobby.JoinRequest) (lobby.Join, error) {
	var out lobby.Join
	return out, f.do(ctx, http.MethodPost, lobby.PathRooms+"/"+url.PathEscape(id)+"/join", req, &out)
}

func (f *fetchLobby) QuickPlay(ctx context.Context, req lobby.QuickPlayRequest) (lobby.Join, error) {
	var out lobby.Join
	return out, f.do(ctx, http.MethodPost, lobby.PathQuickPlay, req, &out)
}

// do is lobby.Client's do over fetch: JSON in, JSON out, the server's
// error body into a *lobby.Error.
func (f *fetchLobby) do(ctx context.Context, method, path string, in, out any) error {
	u := f.base + path
	abort := js.Global().Get("AbortController").New()
	init := js.Global().Get("Object").New()
	init.Set("method", method)
	init.Set("signal", abort.Get("signal"))
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("lobby: %s %s: %w", method, path, err)
		}
		headers := js.Global().Get("Object").New()
		headers.Set("Content-Type", "application/json")
		if f.key != "" {
			headers.Set("Authorization", "Bearer "+f.key)
		}
		init.Set("headers", headers)
		init.Set("body", string(b))
	}
	resp, err := awaitJS(ctx, abort, js.Global().Call("fetch", u, init))
	if err != nil {
		return fmt.Errorf("lobby: %s %s: %w", method, path, &url.Error{Op: method, URL: u, Err: err})
	}
	text, err := awaitJS(ctx, abort, resp.Call("text"))
	if err != nil {
		return fmt.Errorf("lobby: %s %s: reading the answer: %w", method, path, err)
	}
	data := []byte(text.String())
	if status := resp.Get("status").Int(); status/100 != 2 {
		var eb lobby.ErrorBody
		if json.Unmarshal(data, &eb) != nil || eb.Error == "" {
			eb.Error = strings.TrimSpace(string(data))
		}
		return &lobby.Error{Status: status, Reason: eb.Error}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("lobby: %s %s: decoding the answer: %w", method, path, err)
	}
	return nil
}

// awaitJS waits for promise p. When ctx ends first it aborts the fetch
// (abort), which settles p at once, so the callbacks are released only
// once nothing can call them.
func awaitJS(ctx context.Context, abort, p js.Value) (js.Value, error) {
	type result struct {
		v   js.Value
		err error
	}
	ch := make(chan result, 1)
	onOK := js.FuncOf(func(_ js.Value, args []js.Value) any {
		ch <- result{v: args[0]}
		return nil
	})
	onErr := js.FuncOf(func(_ js.Value, args []js.Value) any {
		msg := "javascript error"
		if len(args) > 0 {
			msg = args[0].Call("toString").String()
		}
		ch <- result{err: errors.New(msg)}
		return nil
	})
	defer onOK.Release()
	defer onErr.Release()
	p.Call("then", onOK, onErr)
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		abort.Call("abort")
		<-ch
		return js.Undefined(), ctx.Err()
	}
}

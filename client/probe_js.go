//go:build js

package client

import (
	"log/slog"
	"syscall/js"

	"github.com/tickwire/tickwire/client/probe"
)

// publish sets the page's window.tickwireState to the state, as a plain
// object (a test reads it with one evaluation).
func publish(_ *slog.Logger, _ probe.State, s string) {
	js.Global().Set(probe.Global, js.Global().Get("JSON").Call("parse", s))
}

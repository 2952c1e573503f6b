//go:build !js

package client

import (
	"log/slog"

	"github.com/tickwire/tickwire/client/probe"
)

// publish logs the state: one line per change, with the JSON that
// probe.FromLogLine reads back.
func publish(log *slog.Logger, st probe.State, js string) {
	log.Info(probe.LogMessage, "screen", st.Screen, "room", st.Room, "transport", st.Transport, probe.LogKey, js)
}

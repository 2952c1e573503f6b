//go:build !js

package client

import (
	"context"
	"fmt"
	"os"
)

// loadReplay reads the recording file Config.Replay names.
func loadReplay(_ context.Context, cfg Config) ([]byte, error) {
	b, err := os.ReadFile(cfg.Replay)
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	return b, nil
}

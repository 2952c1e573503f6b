package main

import (
	"io"
	"testing"
)

// TestLagCompensationFlag: lag compensation is on by default, and
// -lag-compensation=false (or its variable, or its config-file key) turns
// it off in every room's game.Config.
func TestLagCompensationFlag(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
		on   bool
	}{
		{"default", nil, nil, true},
		{"flag", []string{"-lag-compensation=false"}, nil, false},
		{"environment", nil, map[string]string{"TICKWIRE_LAG_COMPENSATION": "false"}, false},
		{"config file", nil, map[string]string{"TICKWIRE_CONFIG": writeFile(t, `{"lag_compensation": false}`)}, false},
	} {
		c, err := loadConfig(tt.args, env(tt.env), io.Discard)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if off := c.server(nil).Game.NoLagCompensation; off == tt.on {
			t.Errorf("%s: lag compensation on = %v, want %v", tt.name, !off, tt.on)
		}
	}
}

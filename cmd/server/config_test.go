package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tickwire/tickwire/netcode/server"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tickwire.json")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestZeroConfigIsAWorkingLocalServer(t *testing.T) {
	c, err := loadConfig(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	srv := c.server(nil)
	if srv.MaxSpectators != server.DefaultMaxSpectators {
		t.Errorf("zero config: %d spectators a room, want %d", srv.MaxSpectators, server.DefaultMaxSpectators)
	}
	if none, _ := loadConfig([]string{"-max-spectators", "0"}, env(nil), io.Discard); none.server(nil).MaxSpectators >= 0 {
		t.Error("-max-spectators 0 does not refuse every spectator")
	}
	if srv.Addr != "localhost:4433" || srv.Game.TickRate != 30 || srv.RequireTokens || srv.TokenSecret != nil || c.Redis != "" || c.agones(false) || !c.agones(true) {
		t.Errorf("zero config = %+v", c)
	}
}

// TestConfigFlagBeatsEnvBeatsFileBeatsDefault sets each setting in one
// or more places and checks which one wins.
func TestConfigFlagBeatsEnvBeatsFileBeatsDefault(t *testing.T) {
	file := writeFile(t, `{"tick_rate": 20, "max_players": 50, "seed": 9, "drain_timeout": "5s", "origins": ["http://a:1", "http://b:2"]}`)
	c, err := loadConfig(
		[]string{"-tick-rate", "60", "-max-spectators", "5"},
		env(map[string]string{"TICKWIRE_CONFIG": file, "TICKWIRE_TICK_RATE": "30", "TICKWIRE_MAX_PLAYERS": "70", "TICKWIRE_MAX_SPECTATORS": "6"}),
		io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name      string
		got, want any
	}{
		{"tick-rate: flag over env and file", c.TickRate, 60},
		{"max-players: env over file", c.MaxPlayers, 70},
		{"max-spectators: flag over env", c.MaxSpectators, 5},
		{"max-spectators: reaches the server", c.server(nil).MaxSpectators, 5},
		{"seed: file over default", c.Seed, uint64(9)},
		{"drain-timeout: file duration", c.DrainTimeout, 5 * time.Second},
		{"origins: file list", c.Origins, "http://a:1,http://b:2"},
		{"room-grace: default", c.RoomGrace, time.Minute},
	} {
		if tt.got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

func TestConfigErrorsNameTheBadFieldAndItsSource(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		file string
		want string
	}{
		{"flag", []string{"-tick-rate", "25"}, nil, "", "-tick-rate: 25 Hz"},
		{"env", nil, map[string]string{"TICKWIRE_MAX_PLAYERS": "0"}, "", "-max-players (from TICKWIRE_MAX_PLAYERS): 0 out of"},
		{"spectators", []string{"-max-spectators", "-1"}, nil, "", "-max-spectators: -1 out of"},
		{"env unparsable", nil, map[string]string{"TICKWIRE_DRAIN_TIMEOUT": "soon"}, "", "TICKWIRE_DRAIN_TIMEOUT"},
		{"file value", nil, nil, `{"tick_rate": 45}`, `-tick-rate (from config file key "tick_rate"): 45 Hz`},
		{"file unknown key", nil, nil, `{"tickrate": 30}`, `unknown key "tickrate"`},
		{"file bad type", nil, nil, `{"seed": {"a": 1}}`, `key "seed"`},
		{"short secret", []string{"-token-secret", "abc"}, nil, "", "-token-secret: 3 bytes"},
		{"tokens without secret", []string{"-require-tokens"}, nil, "", "-require-tokens: needs -token-secret"},
		{"redis url", nil, map[string]string{"TICKWIRE_REDIS": "localhost:6379"}, "", "-redis (from TICKWIRE_REDIS)"},
		{"agones mode", []string{"-agones", "yes"}, nil, "", `-agones: "yes": want auto, on or off`},
		{"stray argument", []string{"serve"}, nil, "", `unexpected argument "serve"`},
		{"domain and files", []string{"-domain", "play.example", "-cert", "c.pem", "-key", "k.pem"}, nil, "", "-domain: -domain (ACME) and -cert/-key are alternatives"},
		{"redirect without https", []string{"-http-addr", ":80"}, nil, "", "-http-addr: redirects to https"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := map[string]string{}
			for k, v := range tt.env {
				e[k] = v
			}
			if tt.file != "" {
				e["TICKWIRE_CONFIG"] = writeFile(t, tt.file)
			}
			_, err := loadConfig(tt.args, env(e), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestUnknownTickwireVariablesAreReported(t *testing.T) {
	got := unknownEnv([]string{"TICKWIRE_TICK_RATE=30", "TICKWIRE_TICKRATE=30", "TICKWIRE_CONFIG=x", "HOME=/root"})
	if len(got) != 1 || got[0] != "TICKWIRE_TICKRATE" {
		t.Errorf("unknownEnv = %v, want [TICKWIRE_TICKRATE]", got)
	}
}

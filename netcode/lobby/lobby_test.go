package lobby

import (
	"strings"
	"testing"

	"github.com/tickwire/tickwire/netcode/wire"
)

func TestDecodersRefuseAbsurdValuesNamingTheField(t *testing.T) {
	tests := []struct {
		name   string
		decode func([]byte) error
		body   string
		says   string // "" accepts
	}{
		{"create: empty means defaults", create, ``, ""},
		{"create: all fields", create, `{"id":"a","max_players":10,"tick_rate":60,"aoi_radius":300,"seed":7,"private":true}`, ""},
		{"create: tick rate 1000", create, `{"tick_rate":1000}`, "tick_rate"},
		{"create: a billion players", create, `{"max_players":1000000000}`, "max_players"},
		{"create: negative players", create, `{"max_players":-1}`, "max_players"},
		{"create: 10 KB id", create, `{"id":"` + strings.Repeat("a", 10<<10) + `"}`, "body"},
		{"create: 33-byte id", create, `{"id":"` + strings.Repeat("a", 33) + `"}`, "id:"},
		{"create: unknown field", create, `{"ticks":30}`, "ticks"},
		{"create: two objects", create, `{}{}`, "more than one"},
		{"create: not an object", create, `[1]`, "body"},
		{"create: aoi beyond the arena", create, `{"aoi_radius":1e9}`, "aoi_radius"},
		{"join: empty", join, ``, ""},
		{"join: long player id", join, `{"player_id":"` + strings.Repeat("p", MaxPlayerIDBytes+1) + `"}`, "player_id"},
		{"join: control character in name", join, `{"player_name":"a\u0007"}`, "player_name"},
		{"quick: empty", quick, ``, ""},
		{"quick: tick rate", quick, `{"tick_rate":60,"player_name":"ann"}`, ""},
		{"quick: tick rate 1000", quick, `{"tick_rate":1000}`, "tick_rate"},
		{"quick: unknown field", quick, `{"mode":"ctf"}`, "mode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.decode([]byte(tt.body))
			switch {
			case tt.says == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.says != "" && (err == nil || !strings.Contains(err.Error(), tt.says)):
				t.Errorf("err = %v, want one naming %q", err, tt.says)
			}
		})
	}
}

func create(b []byte) error { _, err := DecodeCreate(b); return err }
func join(b []byte) error   { _, err := DecodeJoin(b); return err }
func quick(b []byte) error  { _, err := DecodeQuickPlay(b); return err }

func FuzzDecodeCreate(f *testing.F) {
	for _, s := range []string{``, `{}`, `{"id":"a","max_players":10,"tick_rate":60,"aoi_radius":300,"seed":7,"private":true}`, `{"x":1}`, `[]`, `{"id":"` + "\xff" + `"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := DecodeCreate(b)
		if err != nil {
			return
		}
		if req.ID != "" && !wire.ValidRoomID(req.ID) || req.MaxPlayers < 0 || req.MaxPlayers > MaxCreatedRoomPlayers || req.AOIRadius < 0 || checkTickRate(req.TickRate) != nil {
			t.Fatalf("accepted %+v from %q", req, b)
		}
	})
}

func FuzzDecodeJoin(f *testing.F) {
	for _, s := range []string{``, `{}`, `{"player_id":"p","player_name":"ann"}`, `{"player_name":"\u0000"}`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := DecodeJoin(b)
		if err != nil {
			return
		}
		if checkPlayer(req.PlayerID, req.PlayerName) != nil {
			t.Fatalf("accepted %+v from %q", req, b)
		}
	})
}

func FuzzDecodeQuickPlay(f *testing.F) {
	for _, s := range []string{``, `{}`, `{"tick_rate":20,"player_id":"p","player_name":"ann"}`, `{"tick_rate":-30}`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := DecodeQuickPlay(b)
		if err != nil {
			return
		}
		if checkTickRate(req.TickRate) != nil || checkPlayer(req.PlayerID, req.PlayerName) != nil {
			t.Fatalf("accepted %+v from %q", req, b)
		}
	})
}

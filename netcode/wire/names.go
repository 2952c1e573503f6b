package wire

import (
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"
)

// ValidRoomID reports whether id is a room identifier: 1 to 32 bytes of
// lowercase ASCII letters, digits, '-' and '_'.
func ValidRoomID(id string) bool {
	if id == "" || len(id) > 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// ValidatePlayerName is the one rule for a player's name: the server's
// hello check, join tokens and the lobby apply it, and a client refuses a
// roster that breaks it.
func ValidatePlayerName(name string) error {
	if name == "" || len(name) > MaxPlayerNameBytes {
		return fmt.Errorf("player name must be 1 to %d bytes, got %d", MaxPlayerNameBytes, len(name))
	}
	if !utf8.ValidString(name) {
		return errors.New("player name is not valid UTF-8")
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return fmt.Errorf("player name contains control character %U", r)
		}
	}
	return nil
}

// Package jointoken signs and verifies join tokens: short-lived,
// HMAC-SHA256 signed claims (room, player id, player name, expiry) that
// a lobby, or a game's own backend holding the same secret, hands to a
// player, and that the server checks in the player's hello.
//
// It does no I/O and keeps no state beyond the secret.
package jointoken

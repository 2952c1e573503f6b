package lobbyui

import (
	"crypto/sha256"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/tickwire/tickwire/netcode/lobby"
	"github.com/tickwire/tickwire/netcode/transport"
)

// Target is where a game plays: the process, the room, the credentials.
type Target struct {
	// Server is the base URL of the process that owns the room.
	Server string
	// Room is the room's id ("" the server's default room).
	Room string
	// Token is the lobby's join token ("" for a direct join).
	Token string
	// CertHashes pin the process's self-signed certificate.
	CertHashes [][sha256.Size]byte
	// Spectate watches the room rather than plays in it.
	Spectate bool
}

// FromJoin is the target of a lobby's join, asked of the lobby at
// lobbyBase. The certificate hashes are used only when trusted: the
// lobby came over https (its certificate verified) or the game was told
// to trust the server it talks to (Config.TrustCertHash, as for
// /cert-hash); otherwise a man in the middle of plain http could pin his
// own certificate, and the certificate is verified by its chain instead.
func FromJoin(lobbyBase string, j lobby.Join, trusted bool) (Target, error) {
	t := Target{Server: ServerOf(lobbyBase, j.URL), Room: j.Room, Token: j.Token, Spectate: j.Spectate}
	if trusted || strings.HasPrefix(strings.ToLower(lobbyBase), "https:") {
		hashes, err := transport.CertHashesBytes(j.CertHashes)
		if err != nil {
			return Target{}, err
		}
		t.CertHashes = hashes
	}
	return t, nil
}

// ServerOf is the URL to dial for a join that names joinURL, asked of the
// lobby at lobbyBase. Usually joinURL itself: the owning process may be
// another one. But a process that listens on every interface and was
// given no public URL names itself "localhost", which from another
// machine is wrong: a loopback host from a lobby that is not on loopback
// can only be the lobby's own machine, so its host (with joinURL's port
// and scheme) is used. An empty joinURL is the lobby's own process.
func ServerOf(lobbyBase, joinURL string) string {
	if joinURL == "" {
		return lobbyBase
	}
	ju, err := url.Parse(joinURL)
	if err != nil {
		return joinURL
	}
	lu, err := url.Parse(lobbyBase)
	if err != nil || !isLoopback(ju.Hostname()) || isLoopback(lu.Hostname()) {
		return joinURL
	}
	host := lu.Hostname()
	if port := ju.Port(); port != "" {
		host = net.JoinHostPort(host, port)
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	ju.Host = host
	return ju.String()
}

// isLoopback reports whether host names this machine: localhost, 127/8
// or ::1. (By hand rather than with net.ParseIP, which the browser's
// wasm would otherwise link for this alone.)
func isLoopback(host string) bool {
	host = strings.ToLower(host)
	return host == "localhost" || host == "::1" || strings.HasPrefix(host, "127.")
}

// LobbyMissing reports whether err says the server has no lobby to ask
// (404 or 405 at the lobby's path: an older or a stripped-down server),
// so a game told to join a room may still dial it directly, as it did
// before there was a lobby. A 404 also comes from a lobby that has no
// such room; the direct join then ends with the server's own "no room"
// refusal, which says the same thing.
func LobbyMissing(err error) bool {
	var le *lobby.Error
	return errors.As(err, &le) && (le.Status == http.StatusNotFound || le.Status == http.StatusMethodNotAllowed)
}

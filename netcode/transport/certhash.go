package transport

// The /cert-hash document and the hash parsing both ends share: the
// server serves it (cert.go), clients pin what it lists (dial_native.go,
// browser_js.go).

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// CertHashDoc is the JSON served at GET /cert-hash:
//
//	{"algorithm":"sha-256",
//	 "hashes":["<base64 (standard, padded) of the SHA-256 of the DER>", ...],
//	 "hex":["<the same, lowercase hex>", ...],
//	 "not_after":"<RFC 3339 expiry of the current certificate>"}
//
// The current certificate comes first; during the overlap after a
// rotation the previous one follows. A browser passes each hash (decoded
// from base64 to bytes) as {algorithm: "sha-256", value} in
// WebTransport's serverCertificateHashes.
type CertHashDoc struct {
	Algorithm string   `json:"algorithm"`
	Hashes    []string `json:"hashes"`
	Hex       []string `json:"hex"`
	NotAfter  string   `json:"not_after"`
}

// ParseCertHashDoc decodes a /cert-hash answer (CertHashDoc as JSON) into
// the hashes to pin. It refuses another algorithm, a malformed hash and
// an empty list.
func ParseCertHashDoc(b []byte) ([][sha256.Size]byte, error) {
	var doc CertHashDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("netcode: certificate hashes: %w", err)
	}
	if doc.Algorithm != "sha-256" {
		return nil, fmt.Errorf("netcode: certificate hashes: unsupported algorithm %q", doc.Algorithm)
	}
	if len(doc.Hashes) == 0 {
		return nil, errors.New("netcode: certificate hashes: none listed")
	}
	return CertHashesBytes(doc.Hashes)
}

// CertHashesBytes decodes base64 SHA-256 hashes (CertHashDoc.Hashes, the
// lobby.Join.CertHashes) for DialOptions.CertHashes.
func CertHashesBytes(hashes []string) ([][sha256.Size]byte, error) {
	out := make([][sha256.Size]byte, 0, len(hashes))
	for _, h := range hashes {
		b, err := base64.StdEncoding.DecodeString(h)
		if err != nil || len(b) != sha256.Size {
			return nil, fmt.Errorf("netcode: certificate hash %q is not base64 SHA-256", h)
		}
		out = append(out, [sha256.Size]byte(b))
	}
	return out, nil
}

// ParseCertHash decodes a SHA-256 certificate hash written in hex (as in
// CertHashDoc.Hex, colons allowed) or standard base64 (CertHashDoc.Hashes).
func ParseCertHash(s string) ([sha256.Size]byte, error) {
	var h [sha256.Size]byte
	s = strings.TrimSpace(s)
	if b, err := hex.DecodeString(strings.ReplaceAll(s, ":", "")); err == nil && len(b) == sha256.Size {
		copy(h[:], b)
		return h, nil
	}
	if b, err := base64.StdEncoding.DecodeString(s); err == nil && len(b) == sha256.Size {
		copy(h[:], b)
		return h, nil
	}
	return h, fmt.Errorf("netcode: %q is not a SHA-256 hash in hex or base64", s)
}

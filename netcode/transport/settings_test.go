//go:build !js

package transport

import (
	"context"
	"crypto/tls"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
)

// TestHTTP3SettingsAdvertiseWhatEveryBrowserNeedsForWebTransport reads
// the SETTINGS frame the endpoint sends on a new HTTP/3 connection, as a
// browser does before it asks for a WebTransport session. Chromium needs
// datagrams, extended CONNECT and ENABLE_WEBTRANSPORT (the draft-02/06
// code point); Safari 26.4 and later refuse a server unless it sends
// SETTINGS_WT_MAX_SESSIONS (draft-13/14, at least 1) together with the
// three WT_INITIAL_MAX_* settings; draft-15 peers look for WT_ENABLED.
// (Verified here: the frame's contents. Not verified: Safari itself,
// which does not run on this machine.)
func TestHTTP3SettingsAdvertiseWhatEveryBrowserNeedsForWebTransport(t *testing.T) {
	te := serveTestEndpoint(t, &Endpoint{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := quic.DialAddr(ctx, te.Addrs()[0].String(),
		&tls.Config{InsecureSkipVerify: true, NextProtos: []string{http3.NextProtoH3}}, // the settings, not the certificate, are under test
		&quic.Config{EnableDatagrams: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseWithError(0, "")
	cc := (&http3.Transport{EnableDatagrams: true}).NewClientConn(conn)
	select {
	case <-cc.ReceivedSettings():
	case <-ctx.Done():
		t.Fatal("no SETTINGS frame within 10 s")
	}
	s := cc.Settings()
	if !s.EnableDatagrams || !s.EnableExtendedConnect {
		t.Errorf("datagrams %v, extended CONNECT %v; WebTransport needs both", s.EnableDatagrams, s.EnableExtendedConnect)
	}
	for _, want := range []struct {
		name string
		id   uint64
		min  uint64
	}{
		{"ENABLE_WEBTRANSPORT (draft-02/06, Chromium)", 0x2b603742, 1},
		{"WT_ENABLED (draft-15)", 0x2c7cf000, 1},
		{"WT_MAX_SESSIONS (draft-13/14, Safari)", 0x14e9cd29, 1},
		{"WT_INITIAL_MAX_STREAMS_BIDI", 0x2b65, 1},
		{"WT_INITIAL_MAX_STREAMS_UNI", 0x2b64, 0},
		{"WT_INITIAL_MAX_DATA", 0x2b61, 1},
	} {
		v, ok := s.Other[want.id]
		if !ok || v < want.min {
			t.Errorf("%s (0x%x): sent %v, value %d; want at least %d", want.name, want.id, ok, v, want.min)
		}
	}
}

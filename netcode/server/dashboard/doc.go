// Package dashboard is the web side of the server's live view: GET Path
// serves one self-contained page (index.html, embedded: no external
// script, style or font) that follows GET PathEvents, a stream of
// Server-Sent Events carrying one JSON Event a second.
//
// It owns the routes' paths, the event's JSON (the page's script reads
// its field names), who may look (the lobby key as a bearer token,
// ?key= traded for an HttpOnly cookie, or the cookie; without a key,
// this machine only), the feed that encodes each event once and hands
// the same bytes to at most MaxViewers streams, and the recent
// disconnects. The server's sampler builds the Event from the rooms and
// the metrics and calls Publish; this package must not read the
// server's state, and nothing here runs on a room's tick.
package dashboard

package server

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/tickwire/tickwire/netcode/replay"
)

// replayRoutes serves the recordings of Record.Dir: GET /replays lists
// them, GET /replays/NAME serves one as it is (ranges work), or with
// ?stored=raw every block uncompressed, gzipped for the trip when the
// client accepts it: what the browser game asks for, since its build
// leaves zstd out to stay small.
func (s *Server) replayRoutes(mux *http.ServeMux) {
	if s.Record.Dir == "" {
		return
	}
	mux.HandleFunc("GET "+replay.Path, s.serveReplayList)
	mux.HandleFunc("GET "+replay.Path+"/{name}", s.serveReplay)
}

func (s *Server) serveReplayList(w http.ResponseWriter, _ *http.Request) {
	list := replay.Listing{Replays: []replay.Entry{}}
	entries, err := os.ReadDir(s.Record.Dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.log.Error("listing recordings", "dir", s.Record.Dir, "err", err)
		http.Error(w, "cannot list recordings", http.StatusInternalServerError)
		return
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || !replay.ValidName(e.Name()) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		list.Replays = append(list.Replays, replay.Entry{Name: e.Name(), Room: replay.RoomOf(e.Name()), Bytes: info.Size(), Modified: info.ModTime().UTC().Truncate(time.Second)})
	}
	slices.SortFunc(list.Replays, func(a, b replay.Entry) int {
		if c := b.Modified.Compare(a.Modified); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(list)
}

func (s *Server) serveReplay(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !replay.ValidName(name) {
		http.Error(w, "no such recording", http.StatusNotFound)
		return
	}
	f, err := os.Open(filepath.Join(s.Record.Dir, name))
	if err != nil {
		http.Error(w, "no such recording", http.StatusNotFound)
		return
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil || !info.Mode().IsRegular() {
		http.Error(w, "no such recording", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	if r.URL.RawQuery != replay.StoredRaw {
		http.ServeContent(w, r, name, info.ModTime(), f)
		return
	}
	// The file as it is now: a recording still being written reads as
	// truncated at its last whole block, and plays to there.
	rd, err := replay.Open(f, info.Size())
	if err != nil {
		http.Error(w, "unreadable recording: "+err.Error(), http.StatusUnprocessableEntity)
		return
	}
	defer rd.Close()
	var buf bytes.Buffer
	if err := rd.WriteStored(&buf); err != nil {
		http.Error(w, "unreadable recording: "+err.Error(), http.StatusUnprocessableEntity)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Vary", "Accept-Encoding")
	if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		_, _ = w.Write(buf.Bytes())
		return
	}
	w.Header().Set("Content-Encoding", "gzip")
	zw := gzip.NewWriter(w)
	_, _ = zw.Write(buf.Bytes())
	_ = zw.Close()
}

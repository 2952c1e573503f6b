package recording

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/tickwire/tickwire/netcode/replay"
)

// Handle registers on mux the routes that serve dir's recordings:
// GET replay.Path (/replays) lists them (replay.Listing), GET
// /replays/NAME serves one as it is (ranges work), or with ?stored=raw
// every block uncompressed, gzipped for the trip when the client accepts
// it: what the browser game asks for, since its build leaves zstd out to
// stay small. A recording still being written is served as it is now.
func Handle(mux *http.ServeMux, dir string, log *slog.Logger) {
	f := files{dir: dir, log: log}
	mux.HandleFunc("GET "+replay.Path, f.serveList)
	mux.HandleFunc("GET "+replay.Path+"/{name}", f.serveFile)
}

// files serves the recordings of dir.
type files struct {
	dir string
	log *slog.Logger
}

func (s files) serveList(w http.ResponseWriter, _ *http.Request) {
	list := replay.Listing{Replays: []replay.Entry{}}
	entries, err := os.ReadDir(s.dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.log.Error("listing recordings", "dir", s.dir, "err", err)
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

func (s files) serveFile(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !replay.ValidName(name) {
		http.Error(w, "no such recording", http.StatusNotFound)
		return
	}
	f, err := os.Open(filepath.Join(s.dir, name))
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

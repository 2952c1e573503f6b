package server

// Internals the external tests (package server_test) reach, as net/http's
// export_test.go does: test-only names, absent from the package's API.

// Publish writes s's process record and rooms to the directory now,
// rather than at the next heartbeat.
var Publish = (*Server).publish

// ParkedPlayers is how many dropped players wait in the resume book.
func (s *Server) ParkedPlayers() int { return s.resume.len() }

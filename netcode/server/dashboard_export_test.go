package server

// DashboardViewers is how many /dashboard/events streams are open.
func (s *Server) DashboardViewers() int64 { return s.dash.Viewers() }

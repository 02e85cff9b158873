// The snapshot parameters of CONFIG GET and SET.

package cachenode

// persistConfigParams are CONFIG's snapshot parameters. dir and dbfilename
// are read-only, as redis-server 7 makes them by default (protected
// configs: changing them at run time is a well-known way to make a server
// write files where it should not); save can be changed.
var persistConfigParams = []configParam{
	{"dbfilename", func(s *Server) string { return s.cfg.DBFilename }, protectedConfig},
	{"dir", func(s *Server) string { return s.cfg.Dir }, protectedConfig},
	{"save", func(s *Server) string { return formatSavePoints(*s.persist.savePoints.Load()) }, setSave},
}

func protectedConfig(*Server, []byte) (func(), string) { return nil, "can't set protected config" }

func setSave(s *Server, b []byte) (func(), string) {
	pts, err := ParseSavePoints(string(b))
	if err != nil {
		return nil, "Invalid save parameters"
	}
	return func() { s.persist.savePoints.Store(&pts) }, ""
}

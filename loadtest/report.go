package loadtest

import "io"

func writeReport(w io.Writer, s *Summary) error {
	_, err := io.WriteString(w, "<html></html>")
	return err
}

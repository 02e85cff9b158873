package main

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEShowsThisProgram checks that the README's tour shows this file as
// it is, so the snippet users copy always compiles.
func TestREADMEShowsThisProgram(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "<!-- client-snippet -->\n```go\n")
	if !ok {
		t.Fatal("README.md has no <!-- client-snippet --> Go block")
	}
	snippet, _, ok := strings.Cut(after, "```\n<!-- /client-snippet -->")
	if !ok {
		t.Fatal("README.md's client snippet is not closed by <!-- /client-snippet -->")
	}
	// The README shows the program from its package clause on.
	_, code, _ := strings.Cut(string(src), "package main\n")
	if want := "package main\n" + code; snippet != want {
		t.Errorf("README.md's client snippet differs from examples/tour/main.go; copy the file into the README.\nREADME:\n%s\nmain.go:\n%s", snippet, want)
	}
}

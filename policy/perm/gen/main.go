package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/edgerec/edgerec/policy/perm"
)

func main() {
	out := flag.String("o", "PERMISSIONS.md", "output file")
	flag.Parse()
	tmp := *out + ".tmp"
	if err := os.WriteFile(tmp, []byte(perm.Markdown()), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	if err := os.Rename(tmp, filepath.Clean(*out)); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

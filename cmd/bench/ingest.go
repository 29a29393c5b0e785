package main

import (
	"fmt"
	"os"
)

// runIngest benchmarks the api's ingest path (not implemented yet).
func runIngest(args []string) {
	fmt.Fprintln(os.Stderr, "bench ingest: not implemented yet")
	os.Exit(2)
}

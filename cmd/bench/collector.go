package main

import (
	"fmt"
	"os"
)

// runCollector benchmarks the collector (not implemented yet).
func runCollector(args []string) {
	fmt.Fprintln(os.Stderr, "bench collector: not implemented yet")
	os.Exit(2)
}

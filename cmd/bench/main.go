// Command bench measures quantrac's parts on real data.
//
//	bench tsdb -csv DIR [-vm PATH]   the embedded engine (and VictoriaMetrics beside it)
//	bench ingest ...                 the api's ingest path
//	bench collector ...              the collector
package main

import (
	"fmt"
	"os"
)

func usage() {
	fmt.Fprintln(os.Stderr, `usage: bench <command> [flags]

commands:
  tsdb -csv DIR [-vm PATH]   load CSV files into the embedded tsdb (and VictoriaMetrics) and measure
  ingest                     benchmark the api ingest path
  collector                  benchmark the collector`)
	os.Exit(2)
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "tsdb":
		if err := runTSDB(args); err != nil {
			fmt.Fprintln(os.Stderr, "bench tsdb:", err)
			os.Exit(1)
		}
	case "ingest":
		runIngest(args)
	case "collector":
		runCollector(args)
	default:
		usage()
	}
}

// Command rulepacks writes the alert rule packs generated from package
// standards (QCVN 05:2023 air limits, QCVN 08:2023 water classes, flood
// alarm levels, VN_AQI categories) into a rules directory.
//
//	go run ./cmd/rulepacks                     # writes configs/rules/*.yaml
//	go run ./cmd/rulepacks -check              # exit 1 when a file is stale
//	go run ./cmd/rulepacks -flood my-flood.yaml  # also flood-levels-local.yaml
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/quantrac/quantrac/standards"
	"github.com/quantrac/quantrac/standards/rulepacks"
)

func main() {
	if err := runArgs(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "rulepacks:", err)
		os.Exit(1)
	}
}

// runArgs parses the command line and runs; a stray argument (a flood file
// given without -flood) is an error rather than a silent regeneration.
func runArgs(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("rulepacks", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", filepath.Join("configs", "rules"), "rules directory to write")
	check := fs.Bool("check", false, "only compare the files with the tables; exit 1 when one differs")
	flood := fs.String("flood", "", "YAML file of extra flood stations (see standards.ParseFloodStations); written to "+rulepacks.FloodLocalFile)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (a flood stations file goes after -flood)", fs.Arg(0))
	}
	return run(*out, *check, *flood)
}

func run(out string, check bool, flood string) error {
	packs := rulepacks.Packs()
	if flood != "" {
		data, err := os.ReadFile(flood)
		if err != nil {
			return fmt.Errorf("-flood: %w", err)
		}
		extra, err := standards.ParseFloodStations(data, flood)
		if err != nil {
			return err
		}
		packs = append(packs, rulepacks.Pack{Name: rulepacks.FloodLocalFile, Data: rulepacks.FloodPack(extra, true)})
	}
	if check {
		stale := 0
		for _, p := range packs {
			have, err := os.ReadFile(filepath.Join(out, p.Name))
			if err != nil || !bytes.Equal(have, p.Data) {
				fmt.Fprintf(os.Stderr, "%s is stale: run go run ./cmd/rulepacks\n", filepath.Join(out, p.Name))
				stale++
			}
		}
		if stale > 0 {
			return fmt.Errorf("%d stale rule packs", stale)
		}
		return nil
	}
	if err := rulepacks.Write(out, packs); err != nil {
		return err
	}
	for _, p := range packs {
		fmt.Println("wrote", filepath.Join(out, p.Name))
	}
	return nil
}

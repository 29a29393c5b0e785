package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quantrac/quantrac/vmstore/vmtest"
)

// writeFixture writes two small station files in the Beijing CSV format
// (with NA gaps and a text column).
func writeFixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, st := range []string{"Alpha", "Beta"} {
		var b strings.Builder
		b.WriteString(`"No","year","month","day","hour","PM2.5","TEMP","wd","WSPM","station"` + "\n")
		for i := 0; i < 72; i++ {
			pm := fmt.Sprint(10 + i%7)
			if i%11 == 0 {
				pm = "NA"
			}
			fmt.Fprintf(&b, "%d,2014,1,%d,%d,%s,%.1f,\"NNW\",%.1f,\"%s\"\n", i+1, 1+i/24, i%24, pm, -1.5+float64(i%5)/10, float64(i%9)/10, st)
		}
		if err := os.WriteFile(filepath.Join(dir, "PRSA_"+st+".csv"), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadCSV(t *testing.T) {
	samples, err := loadCSVDir(writeFixture(t))
	if err != nil {
		t.Fatal(err)
	}
	// 2 stations x 72 rows x 3 numeric columns, minus 7 NA per station.
	if want := 2 * (72*3 - 7); len(samples) != want {
		t.Fatalf("%d samples, want %d", len(samples), want)
	}
	for _, s := range samples {
		if m := s.Labels.Metric(); m != "pm2_5" && m != "temp" && m != "wspm" {
			t.Fatalf("unexpected metric %q", m)
		}
	}
}

func TestRunTSDB(t *testing.T) {
	if err := runTSDB([]string{"-csv", writeFixture(t), "-runs", "2"}); err != nil {
		t.Fatal(err)
	}
}

// vmBinary finds the VictoriaMetrics binary (vmtest.Binary) or skips.
func vmBinary(t *testing.T) string {
	t.Helper()
	p := vmtest.Binary()
	if p == "" {
		t.Skip("no VictoriaMetrics binary: run scripts/build-vm or set QUANTRAC_VM_BIN")
	}
	return p
}

func TestRunTSDBWithVM(t *testing.T) {
	if testing.Short() {
		t.Skip("starts VictoriaMetrics; skipped with -short")
	}
	if err := runTSDB([]string{"-csv", writeFixture(t), "-runs", "2", "-vm", vmBinary(t)}); err != nil {
		t.Fatal(err)
	}
}

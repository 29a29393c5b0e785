package main

import "testing"

// TestBenchIngestWithVM runs one small ingest round against our api and
// VictoriaMetrics (both started and stopped by the benchmark).
func TestBenchIngestWithVM(t *testing.T) {
	if testing.Short() {
		t.Skip("starts VictoriaMetrics")
	}
	args := []string{"-csv", writeFixture(t), "-rounds", "1", "-runs", "1", "-chunk", "50", "-vm", vmBinary(t)}
	if err := benchIngest(args); err != nil {
		t.Fatal(err)
	}
}

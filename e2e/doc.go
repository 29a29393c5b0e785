// Package e2e holds quantrac's end-to-end fault suite: the api, the
// collector, mosquitto and the VictoriaMetrics cluster run as real processes
// (built with go build and started with os/exec), the simulator and an SMSC
// run in the test process, and every scenario ends with an exact count of
// samples (or SMS) against the simulator's ground truth or against what was
// acknowledged.
//
// The package has only tests. Plain `go test ./e2e/` runs a CI-sized suite
// (a few cycles per scenario); QUANTRAC_E2E_FULL=1 runs the full one; see
// docs/faults.md.
package e2e

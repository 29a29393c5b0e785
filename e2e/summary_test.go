package e2e

import (
	"fmt"
	"io"
	"os"
	"sync"
	"text/tabwriter"
)

// row is one line of the summary table.
type row struct {
	Scenario string
	Cycles   int
	tally
	SMS  *smsTally // nil for scenarios without SMS
	Note string
}

// smsTally counts SMS through a fault.
type smsTally struct{ Sent, Delivered, Duplicated int }

var summary struct {
	mu   sync.Mutex
	rows []row
}

// report adds a row to the summary table printed at the end of the run.
func report(r row) {
	summary.mu.Lock()
	defer summary.mu.Unlock()
	summary.rows = append(summary.rows, r)
}

// printSummary prints the table to w and, when QUANTRAC_E2E_SUMMARY is
// set, to that file.
func printSummary(w io.Writer) {
	summary.mu.Lock()
	rows := append([]row(nil), summary.rows...)
	summary.mu.Unlock()
	if len(rows) == 0 {
		return
	}
	write := func(w io.Writer) {
		mode := "CI-sized"
		if full() {
			mode = "full"
		}
		fmt.Fprintf(w, "\nquantrac fault suite (%s run, %s)\n", mode, cpuNote())
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "scenario\tcycles\texpected\tsent\tacked\tstored\tlost\twrong\tdup\tre-acked\tunpolled\tlate\tSMS sent\tdelivered\tdup SMS\t")
		for _, r := range rows {
			sms := "-\t-\t-"
			if r.SMS != nil {
				sms = fmt.Sprintf("%d\t%d\t%d", r.SMS.Sent, r.SMS.Delivered, r.SMS.Duplicated)
			}
			samples := fmt.Sprintf("%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d", r.Expected, r.Sent, r.Acked, r.Stored, r.Lost, r.Wrong, r.Dups, r.Resent, r.Unpolled, r.Late)
			if r.SMS != nil && r.Expected == 0 {
				samples = "-\t-\t-\t-\t-\t-\t-\t-\t-\t-"
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t\n", r.Scenario, r.Cycles, samples, sms)
		}
		tw.Flush()
		for _, r := range rows {
			if r.Note != "" {
				fmt.Fprintf(w, "  %s: %s\n", r.Scenario, r.Note)
			}
		}
		fmt.Fprintln(w, "expected: samples the ground truth or an acknowledgement says must be stored; sent/acked: distinct samples the collector")
		fmt.Fprintln(w, "sent to / had acknowledged by the api; lost: expected but not stored; wrong: stored value differs from the truth;")
		fmt.Fprintln(w, "dup: points stored twice; re-acked: samples acknowledged twice (delivered again after an acknowledgement);")
		fmt.Fprintln(w, "unpolled: whole poll slots absent that the collector reported as failed or missed polls (not counted as expected);")
		fmt.Fprintln(w, "late: Modbus samples holding the next step's reading (a late poll stamped with a missed slot; 0 since the collector skips such slots).")
	}
	write(w)
	if p := os.Getenv(envSummary); p != "" {
		if f, err := os.Create(p); err == nil {
			write(f)
			f.Close()
		}
	}
}

package collector

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/rs/zerolog"
)

// TestErrorLogRateLimit: a station failing every poll logs once a minute,
// with the number of repeats it held back; status and counters see all.
func TestErrorLogRateLimit(t *testing.T) {
	var buf bytes.Buffer
	tr := newTracker(metrics.NewSet(), zerolog.New(&buf))
	s := tr.get("HN-01", DriverModbus)
	now := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	for i := 0; i < 120; i++ { // two minutes of polls every second
		tr.polled(s, time.Millisecond, errors.New("connection refused"), now.Add(time.Duration(i)*time.Second))
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d log lines, want 2:\n%s", len(lines), buf.String())
	}
	if !strings.Contains(lines[0], `"station":"HN-01"`) || !strings.Contains(lines[1], `"suppressed_repeats":59`) {
		t.Fatalf("log lines:\n%s", buf.String())
	}
	st := tr.snapshot()[0]
	if st.Errors != 120 || st.Polls != 120 || st.LastError != "connection refused" {
		t.Fatalf("status: %+v", st)
	}
}

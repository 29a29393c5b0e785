package collector

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// Handler serves /metrics (Prometheus text), /healthz and /status (JSON per
// station: last value, last error).
func (c *Collector) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		c.set.WritePrometheus(w)
		metrics.WriteProcessMetrics(w)
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		st := c.q.Stats()
		body := map[string]any{
			"status":              "ok",
			"queue_pending_bytes": st.PendingBytes,
			"queue_oldest_age_s":  st.OldestAge.Seconds(),
			"queue_dropped":       st.DroppedBlocks,
		}
		if t := c.LastSend(); !t.IsZero() {
			body["last_send"] = t.UTC().Format(time.RFC3339)
		}
		writeJSON(w, http.StatusOK, body)
	})
	mux.HandleFunc("/status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"stations": c.Status(), "queue": c.q.Stats()})
	})
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

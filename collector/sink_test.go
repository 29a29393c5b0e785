package collector

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quantrac/quantrac/model"
)

func TestCheckResponse(t *testing.T) {
	f := func(code int, retryAfter string, wantErr, wantPerm bool, wantAfter time.Duration) {
		t.Helper()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if retryAfter != "" {
				w.Header().Set("Retry-After", retryAfter)
			}
			w.WriteHeader(code)
			w.Write([]byte("why"))
		}))
		defer srv.Close()
		resp, err := http.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		_, err = checkResponse("test", resp)
		var perm *PermanentError
		var ra *RetryAfterError
		switch {
		case !wantErr && err != nil, wantErr && err == nil:
			t.Fatalf("HTTP %d: error %v, want error %v", code, err, wantErr)
		case wantPerm != errors.As(err, &perm):
			t.Fatalf("HTTP %d: permanent %v, want %v (%v)", code, !wantPerm, wantPerm, err)
		}
		if errors.As(err, &ra) && ra.After != wantAfter {
			t.Fatalf("HTTP %d: retry after %v, want %v", code, ra.After, wantAfter)
		}
	}
	f(200, "", false, false, 0)
	f(204, "", false, false, 0)
	f(429, "7", true, false, 7*time.Second)
	f(503, "", true, false, 0)
	f(500, "", true, false, 0)
	f(401, "", true, false, 0) // a token problem is fixed by config: keep the data
	f(400, "", true, true, 0)
	f(413, "", true, true, 0)
	if d := parseRetryAfter(time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)); d < 59*time.Minute {
		t.Fatalf("HTTP-date Retry-After: %v", d)
	}
	if d := parseRetryAfter("soon"); d != 0 {
		t.Fatalf("bad Retry-After: %v", d)
	}
}

// TestAPISinkRetryAfter answers 429 with Retry-After first: the sender
// waits, retries and delivers with the token.
func TestAPISinkRetryAfter(t *testing.T) {
	var calls atomic.Int32
	var auth atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/stations" {
			return
		}
		auth.Store(r.Header.Get("Authorization"))
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		w.Write([]byte(`{"stored":1,"rejected":0}`))
	}))
	defer srv.Close()
	dir := t.TempDir()
	cfg := pushConfig(t, dir, srv.URL, "")
	cfg.Sink.Token = "secret"
	src := &pushSource{stations: []string{"P1"}, every: time.Millisecond, perBatch: 1, base: 1764057600000, limit: 1}
	r := startCollector(t, cfg, Options{Logger: testLog(t), Drivers: pushDrivers(src)})
	waitFor(t, "delivery after 429", 30*time.Second, func() bool { return calls.Load() >= 2 && r.c.Queue().Stats().PendingBytes == 0 })
	if got := auth.Load(); got != "Bearer secret" {
		t.Fatalf("Authorization %q", got)
	}
}

func TestEncodeIngest(t *testing.T) {
	a := model.New("ph", "station", "S")
	b := model.New("do_mgl", "station", "S")
	req := encodeIngest([]model.Sample{{Labels: a, T: 1, V: 7}, {Labels: b, T: 1, V: 5, Q: model.QualityStuck}, {Labels: a, T: 2, V: 7.1}})
	if len(req.Series) != 2 || len(req.Series[0].T) != 2 || req.Series[0].Q != nil || req.Series[1].Q[0] != uint8(model.QualityStuck) {
		t.Fatalf("%+v", req.Series)
	}
}

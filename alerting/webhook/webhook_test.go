package webhook

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/quantrac/quantrac/alerting"
)

func TestWebhook(t *testing.T) {
	var got Payload
	var key, auth string
	status := 200
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, auth = r.Header.Get("Idempotency-Key"), r.Header.Get("Authorization")
		if err := json.NewDecoder(r.Body).Decode(&got); err != nil {
			t.Errorf("decode: %v", err)
		}
		w.WriteHeader(status)
	}))
	defer srv.Close()
	s, err := New(Config{URL: srv.URL, BearerToken: "ioc-token"})
	if err != nil {
		t.Fatal(err)
	}
	msg := &alerting.Message{ID: "9", Receiver: "ioc", Text: "x", Created: time.Unix(1764032400, 0).UTC(),
		Events: []*alerting.Event{{AlertID: 3, Kind: alerting.EventFiring, Rule: "r", Labels: map[string]string{"station": "HN-LongBien"}, Value: 10.6}}}
	if _, err := s.Notify(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	if key != "quantrac-9" || auth != "Bearer ioc-token" || got.ID != "9" || len(got.Events) != 1 || got.Events[0].Labels["station"] != "HN-LongBien" || got.Events[0].Value != 10.6 {
		t.Fatalf("got %+v key %q auth %q", got, key, auth)
	}
	for st, want := range map[int]bool{500: true, 429: true, 404: false, 400: false} {
		status = st
		retry, err := s.Notify(context.Background(), msg)
		if err == nil || retry != want {
			t.Fatalf("status %d: retry %v err %v", st, retry, err)
		}
	}
	if _, err := New(Config{URL: "nope"}); err == nil {
		t.Fatal("bad url accepted")
	}
}

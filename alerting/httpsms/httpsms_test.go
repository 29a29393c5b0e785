package httpsms

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/quantrac/quantrac/alerting"
)

// A provider endpoint that checks exactly what a Vietnamese brandname SMS
// API expects: POST, JSON content type, API key header, and the body.
func TestSendToGateway(t *testing.T) {
	var mu sync.Mutex
	var bodies []map[string]string
	status, code := http.StatusOK, "100"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/MainService.svc/json/SendMultipleMessage_V4_post_json/" {
			t.Errorf("request %s %s", r.Method, r.URL.Path)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("content type %q", ct)
		}
		if u, p, ok := r.BasicAuth(); !ok || u != "quantrac" || p != "s3cret" {
			t.Errorf("basic auth %q %q %v", u, p, ok)
		}
		raw, _ := io.ReadAll(r.Body)
		var m map[string]string
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Errorf("body is not JSON: %s", raw)
		}
		mu.Lock()
		bodies = append(bodies, m)
		st, c := status, code
		mu.Unlock()
		w.WriteHeader(st)
		io.WriteString(w, `{"CodeResult":"`+c+`","SMSID":"abc"}`)
	}))
	defer srv.Close()
	s, err := New(Config{
		URL:           srv.URL + "/MainService.svc/json/SendMultipleMessage_V4_post_json/",
		BasicUser:     "quantrac",
		BasicPassword: "s3cret",
		Body:          `{"Phone":{{json .ToLocal}},"Content":{{json .Text}},"Brandname":"QUANTRAC","SmsType":"2","IsUnicode":"1","RequestId":{{json .ID}}}`,
		SuccessField:  "CodeResult", SuccessValue: "100", RetryValues: []string{"99"},
	})
	if err != nil {
		t.Fatal(err)
	}
	msg := &alerting.Message{ID: "42", To: "+84901000001", Text: "Trạm Long Biên: Báo động II \"khẩn\"\nOK 7"}
	if retry, err := s.Notify(context.Background(), msg); err != nil {
		t.Fatalf("send: %v %v", retry, err)
	}
	want := map[string]string{"Phone": "0901000001", "Content": msg.Text, "Brandname": "QUANTRAC", "SmsType": "2", "IsUnicode": "1", "RequestId": "42"}
	for k, v := range want {
		if bodies[0][k] != v {
			t.Fatalf("field %s = %q, want %q", k, bodies[0][k], v)
		}
	}
	if len(bodies[0]) != len(want) {
		t.Fatalf("body %v", bodies[0])
	}
	for _, c := range []struct {
		status int
		code   string
		retry  bool
	}{{503, "100", true}, {429, "100", true}, {400, "100", false}, {401, "100", false}, {200, "99", true}, {200, "104", false}} {
		mu.Lock()
		status, code = c.status, c.code
		mu.Unlock()
		retry, err := s.Notify(context.Background(), msg)
		if err == nil || retry != c.retry {
			t.Fatalf("status %d code %s: retry %v err %v", c.status, c.code, retry, err)
		}
	}
	srv.Close()
	if retry, err := s.Notify(context.Background(), msg); err == nil || !retry {
		t.Fatalf("gateway down: retry %v err %v", retry, err)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []Config{{}, {URL: "ftp://x", Body: "x"}, {URL: "http://x"}, {URL: "http://x", Body: "{{.Nope}}"}} {
		if _, err := New(c); err == nil {
			t.Fatalf("no error for %+v", c)
		}
	}
}

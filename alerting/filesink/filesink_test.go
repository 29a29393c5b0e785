package filesink

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quantrac/quantrac/alerting"
)

func TestFileSink(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sms.log")
	s, err := New(Config{Path: p})
	if err != nil {
		t.Fatal(err)
	}
	msg := &alerting.Message{ID: "3", Person: "an", To: "+84901000001", Text: "Báo động I\nOK 1", Created: time.Date(2026, 11, 24, 19, 0, 5, 0, time.UTC)}
	if _, err := s.Notify(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	s.Close()
	b, _ := os.ReadFile(p)
	if want := "2026-11-25 02:00:05 #3 → an +84901000001: Báo động I | OK 1\n"; string(b) != want {
		t.Fatalf("got %q", b)
	}
	if _, err := New(Config{Path: filepath.Join(t.TempDir(), "no", "dir", "x")}); err == nil || !strings.Contains(err.Error(), "file sink: open") {
		t.Fatalf("want open error, got %v", err)
	}
}

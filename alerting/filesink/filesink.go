// Package filesink writes notifications as lines to a file or stdout: the
// demo's stand-in for a phone, and an audit trail.
package filesink

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/quantrac/quantrac/alerting"
)

// Config says where and how to write.
type Config struct {
	// Path of the file to append to; "-" or empty writes to stdout.
	Path string `yaml:"path"`
	// JSON writes one JSON object per message instead of a text line.
	JSON bool `yaml:"json"`
	// Timezone for text lines (default Asia/Ho_Chi_Minh).
	Timezone string `yaml:"timezone"`
}

// Sink appends messages.
type Sink struct {
	mu   sync.Mutex
	w    io.Writer
	f    *os.File
	json bool
	loc  *time.Location
}

// New opens the file (created if missing, appended to).
func New(cfg Config) (*Sink, error) {
	tz := cfg.Timezone
	if tz == "" {
		tz = "Asia/Ho_Chi_Minh"
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("file sink: time zone %q: %w", tz, err)
	}
	s := &Sink{json: cfg.JSON, loc: loc, w: os.Stdout}
	if cfg.Path != "" && cfg.Path != "-" {
		f, err := os.OpenFile(cfg.Path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return nil, fmt.Errorf("file sink: open %s: %w", cfg.Path, err)
		}
		s.f, s.w = f, f
	}
	return s, nil
}

// Notify writes msg; a write error is retried by the outbox.
func (s *Sink) Notify(ctx context.Context, msg *alerting.Message) (bool, error) {
	var line []byte
	if s.json {
		b, err := json.Marshal(msg)
		if err != nil {
			return false, fmt.Errorf("file sink %s: encode: %w", msg.ID, err)
		}
		line = append(b, '\n')
	} else {
		to := msg.Receiver
		if msg.To != "" {
			to = msg.Person + " " + msg.To
		}
		text := strings.ReplaceAll(msg.Text, "\n", " | ")
		line = []byte(fmt.Sprintf("%s #%s → %s: %s\n", msg.Created.In(s.loc).Format("2006-01-02 15:04:05"), msg.ID, to, text))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.w.Write(line); err != nil {
		return true, fmt.Errorf("file sink %s: %w", msg.ID, err)
	}
	return false, nil
}

// Close closes the file.
func (s *Sink) Close() error {
	if s.f != nil {
		return s.f.Close()
	}
	return nil
}

// Package webhook posts alert events as JSON to an HTTP endpoint (the IOC
// platform). Each call carries the message id in an Idempotency-Key
// header so the receiver can drop a retried duplicate.
package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/quantrac/quantrac/alerting"
)

// Config describes the endpoint.
type Config struct {
	// URL receives POSTs. Required.
	URL string `yaml:"url"`
	// Headers added to every request.
	Headers map[string]string `yaml:"headers"`
	// BearerToken sets "Authorization: Bearer ...".
	BearerToken string `yaml:"bearer_token"`
	// Timeout of one request, default 10s.
	Timeout time.Duration `yaml:"timeout"`
}

// Payload is the JSON body.
type Payload struct {
	ID       string            `json:"id"`
	Receiver string            `json:"receiver"`
	Created  time.Time         `json:"created"`
	Text     string            `json:"text"`
	Events   []*alerting.Event `json:"events"`
}

// Sender posts payloads.
type Sender struct {
	cfg    Config
	client *http.Client
}

// New validates cfg.
func New(cfg Config) (*Sender, error) {
	u, err := url.Parse(cfg.URL)
	if cfg.URL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("webhook: url required (http or https)")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	return &Sender{cfg: cfg, client: &http.Client{Timeout: cfg.Timeout}}, nil
}

// Notify posts msg once; see alerting.Notifier.
func (s *Sender) Notify(ctx context.Context, msg *alerting.Message) (bool, error) {
	body, err := json.Marshal(Payload{ID: msg.ID, Receiver: msg.Receiver, Created: msg.Created, Text: msg.Text, Events: msg.Events})
	if err != nil {
		return false, fmt.Errorf("webhook %s: encode: %w", msg.ID, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("webhook %s: %w", msg.ID, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "quantrac-"+msg.ID)
	for k, v := range s.cfg.Headers {
		req.Header.Set(k, v)
	}
	if s.cfg.BearerToken != "" {
		req.Header.Set("Authorization", "Bearer "+s.cfg.BearerToken)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL may hold credentials
		}
		return true, fmt.Errorf("webhook %s: %w", msg.ID, err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	ok, retry := alerting.ClassifyHTTP(resp.StatusCode)
	if ok {
		return false, nil
	}
	return retry, fmt.Errorf("webhook %s: status %d: %s", msg.ID, resp.StatusCode, strings.TrimSpace(string(rb)))
}

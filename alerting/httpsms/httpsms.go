// Package httpsms sends alert SMS through an HTTP SMS gateway: one JSON
// POST per message, built from a configurable body template, the shape
// Vietnamese brandname SMS providers use. Notify makes one attempt; the
// alerting outbox retries.
package httpsms

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
	"text/template"
	"time"

	"github.com/quantrac/quantrac/alerting"
	"github.com/quantrac/quantrac/alerting/sms"
)

// Config describes the gateway.
type Config struct {
	// URL of the send endpoint. Required.
	URL string `yaml:"url"`
	// Method, default POST.
	Method string `yaml:"method"`
	// Headers added to every request (API keys).
	Headers map[string]string `yaml:"headers"`
	// BasicUser / BasicPassword set HTTP basic auth when BasicUser is set.
	BasicUser     string `yaml:"basic_user"`
	BasicPassword string `yaml:"basic_password"`
	// BearerToken sets "Authorization: Bearer ...".
	BearerToken string `yaml:"bearer_token"`
	// ContentType, default application/json.
	ContentType string `yaml:"content_type"`
	// Body is a text/template for the request body. Fields: .ID (message
	// id, stable across retries: use it as the provider's request id),
	// .To ("+8491..."), .ToDigits ("8491..."), .ToLocal ("091..."), .Text.
	// Function json quotes a value: {"phone": {{json .ToDigits}}}.
	Body string `yaml:"body"`
	// GSM7 strips Vietnamese diacritics from the text first.
	GSM7 bool `yaml:"gsm7"`
	// SuccessField / SuccessValue: when set, a 2xx answer counts as sent
	// only if the JSON body has this top-level field with this value
	// (e.g. CodeResult = "100").
	SuccessField string `yaml:"success_field"`
	SuccessValue string `yaml:"success_value"`
	// RetryValues are values of SuccessField that mean "try again later"
	// (provider busy); other values give up.
	RetryValues []string `yaml:"retry_values"`
	// Timeout of one request, default 10s.
	Timeout time.Duration `yaml:"timeout"`
}

// Sender posts messages to the gateway.
type Sender struct {
	cfg    Config
	body   *template.Template
	client *http.Client
}

// BodyData is what the body template sees.
type BodyData struct {
	ID, To, ToDigits, ToLocal, Text string
}

// New validates cfg.
func New(cfg Config) (*Sender, error) {
	if cfg.URL == "" {
		return nil, errors.New("httpsms: url required")
	}
	if u, err := url.Parse(cfg.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("httpsms: bad url %q", redact(cfg.URL))
	}
	if cfg.Method == "" {
		cfg.Method = http.MethodPost
	}
	if cfg.ContentType == "" {
		cfg.ContentType = "application/json"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if strings.TrimSpace(cfg.Body) == "" {
		return nil, errors.New("httpsms: body template required")
	}
	t, err := template.New("body").Funcs(template.FuncMap{"json": jsonQuote}).Option("missingkey=error").Parse(cfg.Body)
	if err != nil {
		return nil, fmt.Errorf("httpsms: body template: %w", err)
	}
	if err := t.Execute(io.Discard, BodyData{ID: "1", To: "+84900000000", ToDigits: "84900000000", ToLocal: "0900000000", Text: "x"}); err != nil {
		return nil, fmt.Errorf("httpsms: body template: %w", err)
	}
	return &Sender{cfg: cfg, body: t, client: &http.Client{Timeout: cfg.Timeout}}, nil
}

func jsonQuote(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// Notify sends one message; see alerting.Notifier.
func (s *Sender) Notify(ctx context.Context, msg *alerting.Message) (bool, error) {
	if msg.To == "" {
		return false, fmt.Errorf("http sms %s: no destination number", msg.ID)
	}
	text := msg.Text
	if s.cfg.GSM7 {
		text = sms.StripDiacritics(text)
	}
	digits := strings.TrimPrefix(msg.To, "+")
	local := digits
	if strings.HasPrefix(local, "84") {
		local = "0" + local[2:]
	}
	var body bytes.Buffer
	if err := s.body.Execute(&body, BodyData{ID: msg.ID, To: msg.To, ToDigits: digits, ToLocal: local, Text: text}); err != nil {
		return false, fmt.Errorf("http sms %s: body: %w", msg.ID, err)
	}
	req, err := http.NewRequestWithContext(ctx, s.cfg.Method, s.cfg.URL, &body)
	if err != nil {
		return false, fmt.Errorf("http sms %s: %w", msg.ID, err)
	}
	req.Header.Set("Content-Type", s.cfg.ContentType)
	for k, v := range s.cfg.Headers {
		req.Header.Set(k, v)
	}
	if s.cfg.BasicUser != "" {
		req.SetBasicAuth(s.cfg.BasicUser, s.cfg.BasicPassword)
	}
	if s.cfg.BearerToken != "" {
		req.Header.Set("Authorization", "Bearer "+s.cfg.BearerToken)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return true, fmt.Errorf("http sms %s to %s: %s", msg.ID, msg.To, redact(err.Error()))
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	ok, retry := alerting.ClassifyHTTP(resp.StatusCode)
	if !ok {
		return retry, fmt.Errorf("http sms %s to %s: status %d: %s", msg.ID, msg.To, resp.StatusCode, snippet(rb))
	}
	if s.cfg.SuccessField == "" {
		return false, nil
	}
	var m map[string]any
	if err := json.Unmarshal(rb, &m); err != nil {
		return true, fmt.Errorf("http sms %s: answer is not JSON: %s", msg.ID, snippet(rb))
	}
	got := fmt.Sprint(m[s.cfg.SuccessField])
	if got == s.cfg.SuccessValue {
		return false, nil
	}
	for _, v := range s.cfg.RetryValues {
		if got == v {
			return true, fmt.Errorf("http sms %s: gateway busy: %s=%s", msg.ID, s.cfg.SuccessField, got)
		}
	}
	return false, fmt.Errorf("http sms %s to %s refused: %s=%s: %s", msg.ID, msg.To, s.cfg.SuccessField, got, snippet(rb))
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// redact hides credentials in URLs that end up in errors.
func redact(s string) string {
	if i := strings.Index(s, "://"); i >= 0 {
		if j := strings.Index(s[i+3:], "@"); j >= 0 && !strings.ContainsAny(s[i+3:i+3+j], "/ ") {
			return s[:i+3] + "***@" + s[i+3+j+1:]
		}
	}
	return s
}

// Package receivers builds the alerting receivers (SMPP, HTTP SMS gateway,
// webhook, file) from a YAML file such as configs/alerting-receivers.yaml,
// so that cmd/api only loads the file and passes Set.Receivers to
// alerting.New. ${VAR} in the file is replaced by the environment variable
// (keep passwords out of the file).
package receivers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/rs/zerolog"

	"github.com/quantrac/quantrac/alerting"
	"github.com/quantrac/quantrac/alerting/filesink"
	"github.com/quantrac/quantrac/alerting/httpsms"
	"github.com/quantrac/quantrac/alerting/sms"
	"github.com/quantrac/quantrac/alerting/webhook"
	"github.com/quantrac/quantrac/yamlsafe"
)

// File is the receivers file.
type File struct {
	Receivers []*Config `yaml:"receivers"`
}

// Config is one receiver: a name, a type and that type's settings.
type Config struct {
	// Name is what roster people's `receiver:` and logs refer to.
	Name string `yaml:"name"`
	// Type is smpp, httpsms, webhook or file.
	Type string `yaml:"type"`
	// SMS marks a file receiver as an SMS stand-in (one grouped text per
	// officer, as a phone would get); smpp and httpsms are always SMS.
	SMS     bool             `yaml:"sms"`
	SMPP    *sms.Config      `yaml:"smpp"`
	HTTPSMS *httpsms.Config  `yaml:"httpsms"`
	Webhook *webhook.Config  `yaml:"webhook"`
	File    *filesink.Config `yaml:"file"`
}

// Set is the built receivers plus what must be started and closed.
type Set struct {
	Receivers []alerting.Receiver
	smpp      []*sms.Sender
	files     []*filesink.Sink
}

// Load reads and builds a receivers file.
func Load(path string, log zerolog.Logger) (*Set, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read receivers %s: %w", path, err)
	}
	return Parse(path, data, log)
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// Parse builds receivers from YAML; errors name the file, line (for
// syntax and unknown keys) and the receiver.
func Parse(file string, data []byte, log zerolog.Logger) (*Set, error) {
	var missing []string
	lines := strings.SplitAfter(string(data), "\n")
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "#") {
			continue // comments may show ${VAR} examples
		}
		lines[i] = envRef.ReplaceAllStringFunc(l, func(m string) string {
			name := envRef.FindStringSubmatch(m)[1]
			v, ok := os.LookupEnv(name)
			if !ok {
				missing = append(missing, name)
			}
			return v
		})
	}
	data = []byte(strings.Join(lines, ""))
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s: environment variables not set: %s", file, strings.Join(missing, ", "))
	}
	var f File
	if err := yamlsafe.UnmarshalStrict(data, &f); err != nil {
		var ye yaml.Error
		if errors.As(err, &ye) && ye.GetToken() != nil && ye.GetToken().Position != nil {
			return nil, fmt.Errorf("%s:%d: %s", file, ye.GetToken().Position.Line, ye.GetMessage())
		}
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	set := &Set{}
	seen := map[string]bool{}
	for i, c := range f.Receivers {
		if c == nil || c.Name == "" {
			return nil, fmt.Errorf("%s: receivers[%d].name: required", file, i)
		}
		if seen[c.Name] {
			return nil, fmt.Errorf("%s: receivers[%d].name: %q used twice", file, i, c.Name)
		}
		seen[c.Name] = true
		where := fmt.Sprintf("%s: receivers[%d] (%s)", file, i, c.Name)
		var r alerting.Receiver
		r.Name = c.Name
		switch c.Type {
		case "smpp":
			if c.SMPP == nil {
				return nil, fmt.Errorf("%s.smpp: required for type smpp", where)
			}
			s, err := sms.New(*c.SMPP, log)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			set.smpp = append(set.smpp, s)
			r.Notifier, r.SMS = s, true
		case "httpsms":
			if c.HTTPSMS == nil {
				return nil, fmt.Errorf("%s.httpsms: required for type httpsms", where)
			}
			s, err := httpsms.New(*c.HTTPSMS)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			r.Notifier, r.SMS = s, true
		case "webhook":
			if c.Webhook == nil {
				return nil, fmt.Errorf("%s.webhook: required for type webhook", where)
			}
			s, err := webhook.New(*c.Webhook)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			r.Notifier = s
		case "file":
			cfg := filesink.Config{}
			if c.File != nil {
				cfg = *c.File
			}
			s, err := filesink.New(cfg)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			set.files = append(set.files, s)
			r.Notifier, r.SMS = s, c.SMS
		default:
			set.Close()
			return nil, fmt.Errorf("%s.type: unknown %q: want smpp, httpsms, webhook or file", where, c.Type)
		}
		set.Receivers = append(set.Receivers, r)
	}
	return set, nil
}

// Start binds the SMPP senders (in the background, rebinding as needed)
// until ctx ends. Call after alerting.New (which connects replies).
func (s *Set) Start(ctx context.Context) {
	for _, x := range s.smpp {
		x.Start(ctx)
	}
}

// Close unbinds SMPP and closes files.
func (s *Set) Close() error {
	for _, x := range s.smpp {
		x.Close()
	}
	var errs []error
	for _, f := range s.files {
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
}

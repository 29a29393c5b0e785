// Package sms sends alert SMS over SMPP 3.4 (bound as transceiver) and
// receives delivery receipts and officers' replies ("OK 123") on the same
// bind. Vietnamese text goes as UCS-2 (NFC normalised) split with a
// concatenation header; a GSM-7 option strips diacritics for carriers that
// require it. The alerting outbox does retries; Notify makes one attempt.
package sms

import (
	"errors"
	"fmt"
	"time"
)

// Config is the SMPP connection and message settings.
type Config struct {
	// Addr is the SMSC host:port. Required.
	Addr string `yaml:"addr"`
	// User and Password are the bind system_id and password.
	User     string `yaml:"user"`
	Password string `yaml:"password"`
	// SystemType is sent on bind (often empty).
	SystemType string `yaml:"system_type"`
	// Source is the sender: a brandname ("QUANTRAC") or a number. Required.
	Source string `yaml:"source"`
	// SourceTON / SourceNPI: 5/0 for an alphanumeric brandname (default
	// when Source has letters), 1/1 for an international number.
	SourceTON *uint8 `yaml:"source_ton"`
	SourceNPI *uint8 `yaml:"source_npi"`
	// DestTON / DestNPI for the officer's number; default 1/1
	// (international, ISDN): the number is sent without '+'.
	DestTON *uint8 `yaml:"dest_ton"`
	DestNPI *uint8 `yaml:"dest_npi"`
	// GSM7 sends diacritics-free GSM-7 text instead of UCS-2 (cheaper,
	// 160 characters a part; some carriers require it for brandnames).
	GSM7 bool `yaml:"gsm7"`
	// NoReceipts disables delivery receipts (registered_delivery 0).
	NoReceipts bool `yaml:"no_receipts"`
	// EnquireLink interval (default 10s, the library's minimum).
	EnquireLink time.Duration `yaml:"enquire_link"`
	// RespTimeout waits for each submit_sm_resp (default 5s).
	RespTimeout time.Duration `yaml:"resp_timeout"`
	// BindInterval is the delay between rebind attempts after the SMSC
	// drops the connection (default 2s).
	BindInterval time.Duration `yaml:"bind_interval"`
	// Validity of a message at the SMSC (default 0: the SMSC's default).
	Validity time.Duration `yaml:"validity"`
}

func (c *Config) setDefaults() {
	if c.EnquireLink <= 0 {
		c.EnquireLink = 10 * time.Second
	}
	if c.RespTimeout <= 0 {
		c.RespTimeout = 5 * time.Second
	}
	if c.BindInterval <= 0 {
		c.BindInterval = 2 * time.Second
	}
	alpha := false
	for _, r := range c.Source {
		if (r < '0' || r > '9') && r != '+' {
			alpha = true
		}
	}
	u := func(p **uint8, v uint8) {
		if *p == nil {
			*p = &v
		}
	}
	if alpha {
		u(&c.SourceTON, 5)
		u(&c.SourceNPI, 0)
	} else {
		u(&c.SourceTON, 1)
		u(&c.SourceNPI, 1)
	}
	u(&c.DestTON, 1)
	u(&c.DestNPI, 1)
}

// Validate checks the required settings.
func (c *Config) Validate() error {
	if c.Addr == "" {
		return errors.New("smpp: addr required (host:port of the SMSC)")
	}
	if c.Source == "" {
		return errors.New("smpp: source required (brandname or number)")
	}
	if len(c.Source) > 20 {
		return fmt.Errorf("smpp: source %q longer than 20 characters", c.Source)
	}
	return nil
}

// Config returns the effective configuration (defaults applied).
func (s *Sender) Config() Config { return s.cfg }

package alerting

import (
	"context"
	"time"
)

// Message is one notification handed to a receiver: one SMS to one person,
// or one webhook call carrying the events of a group.
type Message struct {
	// ID is unique per message and stable across retries and restarts;
	// receivers pass it on (idempotency header, SMS reference) so the far
	// side can drop duplicates.
	ID string `json:"id"`
	// Receiver is the name of the receiver the message is for.
	Receiver string `json:"receiver"`
	// To is the phone number (E.164, "+84...") for SMS receivers; empty for
	// broadcast receivers.
	To string `json:"to,omitempty"`
	// Person is the roster id of the addressee, when there is one.
	Person string `json:"person,omitempty"`
	// Text is the message, UTF-8, already grouped and shortened.
	Text string `json:"text"`
	// Events are the alert events the message tells about.
	Events []*Event `json:"events"`
	// Created is when the message entered the outbox.
	Created time.Time `json:"created"`
}

// Notifier delivers messages. Notify makes one attempt: it returns nil when
// the far side accepted the message, or an error and whether trying again
// later may help. Receivers never retry or sleep themselves; the outbox does.
type Notifier interface {
	Notify(ctx context.Context, msg *Message) (retry bool, err error)
}

// Referencer is implemented by notifiers that learn a far-side id for an
// accepted message (the SMSC message id), so that a later delivery receipt
// can be matched to the message.
type Referencer interface {
	// LastRefs returns the far-side ids of the message msgID, once sent.
	Refs(msgID string) []string
}

// Inbound is what the engine offers receivers that also receive: SMS
// replies ("OK 123") and delivery receipts.
type Inbound interface {
	// SMSReply handles a text from a phone number.
	SMSReply(ctx context.Context, from, text string)
	// DeliveryReceipt records the final state reported for the far-side id
	// ref (e.g. "DELIVRD", "UNDELIV").
	DeliveryReceipt(ctx context.Context, ref, status string)
}

// InboundSetter is implemented by receivers that can pass replies and
// receipts to the engine; New calls SetInbound with the engine.
type InboundSetter interface {
	SetInbound(Inbound)
}

// Receiver is a named notifier and how it is addressed.
type Receiver struct {
	// Name is how roster people and logs refer to the receiver.
	Name string
	// Notifier delivers the messages.
	Notifier Notifier
	// SMS receivers get one short text per person (grouped); other
	// receivers (webhook, file) get every event once, grouped per flush.
	SMS bool
}

// OutMsg is a message in the outbox with its delivery bookkeeping.
type OutMsg struct {
	Seq       uint64    `json:"seq"`
	Msg       *Message  `json:"msg"`
	Attempts  int       `json:"attempts"`
	NextAt    time.Time `json:"next_at,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	// Status is pending, sent or failed (gave up).
	Status    string    `json:"status"`
	SentAt    time.Time `json:"sent_at,omitzero"`
	Refs      []string  `json:"refs,omitempty"`
	Delivered string    `json:"delivered,omitempty"` // receipt status, e.g. DELIVRD
}

// Outbox message statuses.
const (
	OutPending = "pending"
	OutSent    = "sent"
	OutFailed  = "failed"
)

// ClassifyHTTP maps an HTTP status to the outbox decision: 2xx delivered;
// 408, 425, 429 and 5xx worth retrying; any other status is a permanent
// refusal (bad request, bad credentials) that retrying cannot fix.
func ClassifyHTTP(status int) (ok, retry bool) {
	switch {
	case status >= 200 && status < 300:
		return true, false
	case status == 408 || status == 425 || status == 429 || status >= 500:
		return false, true
	}
	return false, false
}

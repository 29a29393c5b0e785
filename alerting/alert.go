package alerting

import (
	"errors"
	"time"

	"github.com/quantrac/quantrac/model"
)

// State is where an alert is in its lifecycle.
type State string

// Alert states.
const (
	StatePending      State = "pending"      // condition true, waiting for `for`
	StateFiring       State = "firing"       // notified, nobody has taken it
	StateAcknowledged State = "acknowledged" // an officer took it; escalation stopped
	StateResolved     State = "resolved"     // condition cleared or resolved by hand
)

// ParseState checks a state name.
func ParseState(s string) (State, error) {
	switch st := State(s); st {
	case StatePending, StateFiring, StateAcknowledged, StateResolved:
		return st, nil
	}
	return "", errors.New("unknown state " + s + ": want pending, firing, acknowledged or resolved")
}

// Errors callers (the API) tell apart.
var (
	ErrNotFound     = errors.New("not found")
	ErrBadState     = errors.New("alert is not in a state that allows this")
	ErrEngineClosed = errors.New("alerting engine closed")
)

// Alert is one alert: one rule on one series (or one group for nodata).
type Alert struct {
	ID       uint64            `json:"id"`
	Rule     string            `json:"rule"`
	Kind     string            `json:"kind"`
	Key      string            `json:"key"` // rule name + series; one active alert per key
	Labels   map[string]string `json:"labels"`
	State    State             `json:"state"`
	Severity string            `json:"severity"`
	// Level is the index of the current level for levels rules (-1 none).
	Level     int     `json:"level_index"`
	LevelName string  `json:"level,omitempty"`
	Value     float64 `json:"value"`
	Limit     float64 `json:"limit"`
	Unit      string  `json:"unit,omitempty"`
	Message   string  `json:"message"` // last notification text
	Team      string  `json:"team,omitempty"`

	ActiveAt    time.Time `json:"active_at"`              // condition started
	FiredAt     time.Time `json:"fired_at,omitzero"`      // pending → firing (or level raised)
	AckedAt     time.Time `json:"acked_at,omitzero"`      // acknowledged
	ResolvedAt  time.Time `json:"resolved_at,omitzero"`   // resolved
	LastValueAt time.Time `json:"last_value_at,omitzero"` // sample time of Value
	AckBy       string    `json:"acked_by,omitempty"`
	AckNote     string    `json:"ack_note,omitempty"`
	ResolvedBy  string    `json:"resolved_by,omitempty"`
	ResolveNote string    `json:"resolve_note,omitempty"`

	// EscLevel is how many escalation steps have been sent.
	EscLevel int `json:"esc_level"`
	// Notified are the roster people who got an SMS about this alert, so
	// the resolution reaches them too.
	Notified []string `json:"notified,omitempty"`
	// Silenced is filled when listing: a silence matches the alert now.
	Silenced bool `json:"silenced,omitempty"`
	// Held is set when a notification of this firing alert was held by a
	// silence; when the silence ends and the alert still fires, the
	// officers are told then.
	Held bool `json:"held,omitempty"`
	// ClearSince is when the condition cleared while the rule keeps the
	// alert firing (keep_firing_for); zero while the condition holds.
	ClearSince time.Time `json:"clear_since,omitzero"`
	// PrevLevel is the level before the last level change.
	PrevLevel string `json:"prev_level,omitempty"`
	// LevelAt is the sample time the current level was reached (levels kind).
	LevelAt time.Time `json:"level_at,omitzero"`

	// EscalateFrom is when the notification escalation counts from was
	// queued (engine clock), not the sample time: an alert learnt from
	// late data escalates from when the officers were told. Zero in
	// records of older versions: FiredAt counts.
	EscalateFrom time.Time `json:"escalate_from,omitzero"`
	// Late is set while the alert has changed on late samples (older than
	// LateAfter) that were not notified one by one; when its series
	// catches up, one notification tells the state then, if it is news.
	Late bool `json:"late,omitempty"`
	// Untold is set while the alert fired on late samples and nobody has
	// been told yet. An untold alert that resolves sends nothing.
	Untold bool `json:"untold,omitempty"`
	// ToldLevel is the level name of the last firing or level notification.
	ToldLevel string `json:"told_level,omitempty"`
	// DuringGap marks an alert that fired and resolved without anyone
	// being told, because it happened in late data (a collector's backlog
	// after an outage).
	DuringGap bool `json:"during_gap,omitempty"`
	// History is every state change with the time of the sample that
	// caused it (the clock's time for periodic and manual changes), the
	// newest MaxHistory kept.
	History []Transition `json:"history,omitempty"`

	// Not stored: the engine clock and sample time of the last late
	// sample of a held alert's series.
	lateSeen time.Time
	lateT    int64
}

// MaxHistory is how many transitions an alert keeps (the first one and
// the newest ones).
const MaxHistory = 100

// Transition is one state change of an alert.
type Transition struct {
	// At is the time of the sample that caused the change.
	At time.Time `json:"at"`
	// Event is firing, level_up, level_down, acknowledged or resolved.
	Event string `json:"event"`
	// Level is the level name after the change (levels kind).
	Level string  `json:"level,omitempty"`
	Value float64 `json:"value"`
	// Late: the sample was older than LateAfter when it was evaluated, so
	// the change was not notified by itself.
	Late bool `json:"late,omitempty"`
}

// record appends a transition, keeping the first one and the newest.
func (a *Alert) record(t Transition) {
	a.History = append(a.History, t)
	if n := len(a.History); n > MaxHistory {
		copy(a.History[1:], a.History[n-MaxHistory+1:])
		a.History = a.History[:MaxHistory]
	}
}

func (a *Alert) active() bool { return a.State != StateResolved }

func (a *Alert) clone() *Alert {
	c := *a
	c.Labels = make(map[string]string, len(a.Labels))
	for k, v := range a.Labels {
		c.Labels[k] = v
	}
	c.Notified = append([]string(nil), a.Notified...)
	c.History = append([]Transition(nil), a.History...)
	return &c
}

func (a *Alert) notified(person string) bool {
	for _, p := range a.Notified {
		if p == person {
			return true
		}
	}
	return false
}

// Event is something that happened to an alert and may be notified. Events
// are stored with the alert change that caused them, then grouped into
// messages per recipient.
type Event struct {
	Seq      uint64            `json:"seq"`
	AlertID  uint64            `json:"alert_id"`
	Kind     string            `json:"kind"` // EventFiring, EventLevelUp, ...
	Rule     string            `json:"rule"`
	Severity string            `json:"severity"`
	Level    string            `json:"level,omitempty"`
	Text     string            `json:"text"`
	Labels   map[string]string `json:"labels"`
	Value    float64           `json:"value"`
	Limit    float64           `json:"limit"`
	At       time.Time         `json:"at"`
	// Team is the on-call team routed to.
	Team string `json:"team,omitempty"`
	// To names roster people explicitly (escalation steps, ack replies);
	// empty means the team on duty.
	To []string `json:"to,omitempty"`
	// By is who acknowledged (acknowledged events).
	By string `json:"by,omitempty"`
	// SMS false keeps the event off SMS (webhooks and files still get it).
	SMS bool `json:"sms"`
	// ObservedAt is when the triggering sample reached the engine (for
	// latency measurement); zero for periodic events.
	ObservedAt time.Time `json:"observed_at,omitzero"`
	// Late marks the one notification sent when a series catches up after
	// late data: it tells the state then and since when (Since).
	Late bool `json:"late,omitempty"`
	// Since is when the alert's condition started (late notifications).
	Since time.Time `json:"since,omitzero"`
	// Unnamed is the station id the text shows because the station's name
	// was not known yet when it was rendered; grouping puts the name in
	// when it is known by then, so one SMS names every station alike.
	Unnamed string `json:"unnamed,omitempty"`
}

// Silence mutes notifications for alerts whose labels match all matchers
// between Start and End. Alerts keep their state; only messages are held.
type Silence struct {
	ID       string    `json:"id"`
	Matchers string    `json:"matchers"` // a selector, e.g. {station="HN-LongBien"}
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Author   string    `json:"author"`
	Comment  string    `json:"comment"`
	Created  time.Time `json:"created"`

	ms []*model.Matcher
}

// Validate parses the matchers and checks the times.
func (s *Silence) Validate() error {
	if s.Matchers == "" {
		return errors.New("matchers: required, a selector such as {station=\"HN-LongBien\"}")
	}
	ms, err := model.ParseSelector(s.Matchers)
	if err != nil {
		return errors.New("matchers: " + err.Error())
	}
	if s.End.IsZero() {
		return errors.New("end: required")
	}
	if !s.Start.IsZero() && !s.End.After(s.Start) {
		return errors.New("end: must be after start")
	}
	if s.Author == "" {
		return errors.New("author: required")
	}
	s.ms = ms
	return nil
}

// Active reports whether the silence is in force at t.
func (s *Silence) Active(t time.Time) bool {
	return !t.Before(s.Start) && t.Before(s.End)
}

// Matches reports whether the silence covers alert labels.
func (s *Silence) Matches(labels map[string]string) bool {
	for _, m := range s.ms {
		if !m.Matches(labels[m.Name]) {
			return false
		}
	}
	return true
}

package alerting

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"time"
	_ "time/tzdata" // Asia/Ho_Chi_Minh on hosts without a zoneinfo database

	"github.com/quantrac/quantrac/model"
)

// Roster is the on-call configuration (configs/oncall.yaml): people, teams
// with weekly rotations and escalation steps, holiday overrides and routes
// from alert labels to teams. docs/alerting.md documents every key.
type Roster struct {
	// Timezone for rotation start times and overrides; default Asia/Ho_Chi_Minh.
	Timezone string      `yaml:"timezone"`
	People   []*Person   `yaml:"people"`
	Teams    []*Team     `yaml:"teams"`
	Override []*Override `yaml:"overrides"`
	Routes   []*Route    `yaml:"routes"`
	// DefaultTeam gets alerts no route matches.
	DefaultTeam string `yaml:"default_team"`

	loc     *time.Location
	people  map[string]*Person
	byPhone map[string]*Person
	teams   map[string]*Team
}

// Person is someone who can be on duty.
type Person struct {
	ID    string `yaml:"id" json:"id"`
	Name  string `yaml:"name" json:"name"`
	Phone string `yaml:"phone" json:"phone"` // E.164 "+84..." (0... and 84... are accepted and normalised)
	// Receiver names the SMS receiver for this person (default: the first).
	Receiver string `yaml:"receiver" json:"-"`
}

// Team is a duty team with a rotation and an escalation policy.
type Team struct {
	ID       string    `yaml:"id"`
	Name     string    `yaml:"name"`
	Rotation *Rotation `yaml:"rotation"`
	// Escalation steps after the person on duty: each after a delay from
	// the moment the alert fired, while nobody has acknowledged.
	Escalation []*EscalationStep `yaml:"escalation"`
}

// Rotation hands duty from one member to the next every Every, starting
// with the first member at Start.
type Rotation struct {
	// Start is a handoff time, local: "2026-11-23 08:00" (a Monday 08:00
	// gives weekly handoffs on Monday mornings).
	Start string `yaml:"start"`
	// Every is the shift length; default 7d.
	Every   string   `yaml:"every"`
	Members []string `yaml:"members"`

	start time.Time
	every time.Duration
}

// EscalationStep notifies more people when an alert stays unacknowledged.
type EscalationStep struct {
	After  string   `yaml:"after"`  // since the alert fired, e.g. 10m
	Notify []string `yaml:"notify"` // person ids, or team ids (their person on duty)

	after time.Duration
}

// Override puts someone else on duty for a team for a period (holidays,
// sick leave).
type Override struct {
	Team   string   `yaml:"team"`
	From   string   `yaml:"from"` // local "2026-12-31 17:00"
	To     string   `yaml:"to"`
	People []string `yaml:"people"`
	Reason string   `yaml:"reason"`

	from, to time.Time
}

// Route sends alerts whose labels match to a team; first match wins.
type Route struct {
	Match map[string]string `yaml:"match"` // label → value (a value in /slashes/ is a regexp)
	Team  string            `yaml:"team"`

	ms []*model.Matcher
}

const defaultTZ = "Asia/Ho_Chi_Minh"

// LoadRoster reads and validates a roster file.
func LoadRoster(path string) (*Roster, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read roster %s: %w", path, err)
	}
	return ParseRoster(path, data)
}

// ParseRoster parses and validates a roster; errors name file, line, field.
func ParseRoster(file string, data []byte) (*Roster, error) {
	var r Roster
	d, err := decodeYAML(file, data, &r)
	if err != nil {
		return nil, err
	}
	r.check(d)
	if len(d.errs) > 0 {
		return nil, d.errs
	}
	return &r, nil
}

func (r *Roster) check(d *yamlDoc) {
	if r.Timezone == "" {
		r.Timezone = defaultTZ
	}
	loc, err := time.LoadLocation(r.Timezone)
	if err != nil {
		d.errorf("timezone", "unknown time zone %q", r.Timezone)
		loc = time.FixedZone("ICT", 7*3600)
	}
	r.loc = loc
	r.people = map[string]*Person{}
	r.byPhone = map[string]*Person{}
	r.teams = map[string]*Team{}
	for i, p := range r.People {
		f := fmt.Sprintf("people[%d]", i)
		if p == nil || p.ID == "" {
			d.errorf(f+".id", "required")
			continue
		}
		if _, dup := r.people[p.ID]; dup {
			d.errorf(f+".id", "person %q defined twice", p.ID)
		}
		r.people[p.ID] = p
		if p.Name == "" {
			p.Name = p.ID
		}
		if p.Phone != "" {
			ph, err := NormalizePhone(p.Phone)
			if err != nil {
				d.errorf(f+".phone", "%v", err)
			} else {
				p.Phone = ph
				if q, dup := r.byPhone[ph]; dup {
					d.errorf(f+".phone", "phone %s already belongs to %q", ph, q.ID)
				}
				r.byPhone[ph] = p
			}
		}
	}
	for i, t := range r.Teams {
		f := fmt.Sprintf("teams[%d]", i)
		if t == nil || t.ID == "" {
			d.errorf(f+".id", "required")
			continue
		}
		if _, dup := r.teams[t.ID]; dup {
			d.errorf(f+".id", "team %q defined twice", t.ID)
		}
		if _, clash := r.people[t.ID]; clash {
			d.errorf(f+".id", "team id %q is also a person id", t.ID)
		}
		r.teams[t.ID] = t
		if t.Name == "" {
			t.Name = t.ID
		}
		if t.Rotation == nil || len(t.Rotation.Members) == 0 {
			d.errorf(f+".rotation.members", "required: who takes turns on duty")
		} else {
			rot := t.Rotation
			for j, m := range rot.Members {
				if r.people[m] == nil {
					d.errorf(fmt.Sprintf("%s.rotation.members[%d]", f, j), "unknown person %q", m)
				}
			}
			rot.every = 7 * 24 * time.Hour
			if rot.Every != "" {
				if v := d.duration(f+".rotation.every", rot.Every); v > 0 {
					rot.every = v
				} else {
					d.errorf(f+".rotation.every", "must be positive")
				}
			}
			if rot.Start == "" {
				d.errorf(f+".rotation.start", "required: a handoff time such as \"2026-11-23 08:00\"")
			} else if st, err := parseLocal(rot.Start, loc); err != nil {
				d.errorf(f+".rotation.start", "%v", err)
			} else {
				rot.start = st
			}
		}
		var prev time.Duration
		for j, s := range t.Escalation {
			sf := fmt.Sprintf("%s.escalation[%d]", f, j)
			if s == nil {
				d.errorf(sf, "empty step")
				continue
			}
			s.after = d.duration(sf+".after", s.After)
			if s.after <= 0 {
				d.errorf(sf+".after", "required: a positive delay since the alert fired")
			} else if s.after <= prev {
				d.errorf(sf+".after", "must be later than the previous step (%v)", prev)
			}
			prev = s.after
			if len(s.Notify) == 0 {
				d.errorf(sf+".notify", "required: person or team ids")
			}
		}
	}
	// Escalation targets may name teams defined after them: check now.
	for i, t := range r.Teams {
		if t == nil {
			continue
		}
		for j, s := range t.Escalation {
			if s == nil {
				continue
			}
			for k, n := range s.Notify {
				if r.people[n] == nil && r.teams[n] == nil {
					d.errorf(fmt.Sprintf("teams[%d].escalation[%d].notify[%d]", i, j, k), "unknown person or team %q", n)
				}
			}
		}
	}
	for i, o := range r.Override {
		f := fmt.Sprintf("overrides[%d]", i)
		if o == nil {
			d.errorf(f, "empty override")
			continue
		}
		if r.teams[o.Team] == nil {
			d.errorf(f+".team", "unknown team %q", o.Team)
		}
		var err error
		if o.from, err = parseLocal(o.From, loc); err != nil {
			d.errorf(f+".from", "%v", err)
		}
		if o.to, err = parseLocal(o.To, loc); err != nil {
			d.errorf(f+".to", "%v", err)
		} else if !o.to.After(o.from) {
			d.errorf(f+".to", "must be after from")
		}
		if len(o.People) == 0 {
			d.errorf(f+".people", "required: who is on duty instead")
		}
		for j, p := range o.People {
			if r.people[p] == nil {
				d.errorf(fmt.Sprintf("%s.people[%d]", f, j), "unknown person %q", p)
			}
		}
	}
	for i, rt := range r.Routes {
		f := fmt.Sprintf("routes[%d]", i)
		if rt == nil {
			d.errorf(f, "empty route")
			continue
		}
		if r.teams[rt.Team] == nil {
			d.errorf(f+".team", "unknown team %q", rt.Team)
		}
		names := make([]string, 0, len(rt.Match))
		for k := range rt.Match {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			v := rt.Match[k]
			t, val := model.MatchEqual, v
			if len(v) >= 2 && strings.HasPrefix(v, "/") && strings.HasSuffix(v, "/") {
				t, val = model.MatchRegexp, v[1:len(v)-1]
			}
			m, err := model.NewMatcher(t, k, val)
			if err != nil {
				d.errorf(f+".match."+k, "%v", err)
				continue
			}
			rt.ms = append(rt.ms, m)
		}
	}
	if r.DefaultTeam != "" && r.teams[r.DefaultTeam] == nil {
		d.errorf("default_team", "unknown team %q", r.DefaultTeam)
	}
	if r.DefaultTeam == "" && len(r.Teams) > 0 && r.Teams[0] != nil {
		r.DefaultTeam = r.Teams[0].ID
	}
}

func parseLocal(s string, loc *time.Location) (time.Time, error) {
	for _, layout := range []string{"2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, strings.TrimSpace(s), loc); err == nil {
			return t, nil
		}
	}
	if t, err := time.Parse(time.RFC3339, strings.TrimSpace(s)); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("bad time %q: want local \"2006-01-02 15:04\" or RFC 3339", s)
}

// NormalizePhone turns Vietnamese phone forms (0912..., 84912..., +84 912
// ...) into E.164 "+84912...".
func NormalizePhone(s string) (string, error) {
	var b strings.Builder
	for i, c := range strings.TrimSpace(s) {
		switch {
		case c >= '0' && c <= '9':
			b.WriteRune(c)
		case c == '+' && i == 0:
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
		default:
			return "", fmt.Errorf("bad phone number %q", s)
		}
	}
	d := b.String()
	switch {
	case strings.HasPrefix(d, "00"):
		d = d[2:]
	case strings.HasPrefix(d, "0"):
		d = "84" + d[1:]
	}
	if len(d) < 8 || len(d) > 15 {
		return "", fmt.Errorf("bad phone number %q: want e.g. +84912345678", s)
	}
	return "+" + d, nil
}

// Location is the roster's time zone.
func (r *Roster) Location() *time.Location { return r.loc }

// Person returns a person by id.
func (r *Roster) Person(id string) *Person { return r.people[id] }

// PersonByPhone finds who owns a phone number (any accepted form).
func (r *Roster) PersonByPhone(phone string) *Person {
	ph, err := NormalizePhone(phone)
	if err != nil {
		return nil
	}
	return r.byPhone[ph]
}

// Team returns a team by id.
func (r *Roster) Team(id string) *Team { return r.teams[id] }

// Route picks the team for alert labels.
func (r *Roster) Route(labels map[string]string) string {
	for _, rt := range r.Routes {
		ok := true
		for _, m := range rt.ms {
			if !m.Matches(labels[m.Name]) {
				ok = false
				break
			}
		}
		if ok {
			return rt.Team
		}
	}
	return r.DefaultTeam
}

// Duty is who is on duty for a team at a moment.
type Duty struct {
	Team     string    `json:"team"`
	TeamName string    `json:"team_name"`
	People   []*Person `json:"people"`
	Until    time.Time `json:"until"`            // next handoff or end of override
	Reason   string    `json:"reason,omitempty"` // override reason
}

// OnDuty returns who is on duty for team at t.
func (r *Roster) OnDuty(team string, t time.Time) Duty {
	tm := r.teams[team]
	if tm == nil {
		return Duty{Team: team}
	}
	d := Duty{Team: tm.ID, TeamName: tm.Name}
	for _, o := range r.Override {
		if o.Team == team && !t.Before(o.from) && t.Before(o.to) {
			for _, p := range o.People {
				d.People = append(d.People, r.people[p])
			}
			d.Until = o.to.In(r.loc)
			d.Reason = o.Reason
			return d
		}
	}
	rot := tm.Rotation
	if rot == nil || len(rot.Members) == 0 || rot.every <= 0 {
		return d
	}
	diff := t.Sub(rot.start)
	n := int64(diff / rot.every)
	if diff < 0 && diff%rot.every != 0 {
		n-- // floor division before the start
	}
	idx := int(((n % int64(len(rot.Members))) + int64(len(rot.Members))) % int64(len(rot.Members)))
	d.People = []*Person{r.people[rot.Members[idx]]}
	d.Until = rot.start.Add(time.Duration(n+1) * rot.every).In(r.loc)
	// An override starting before the handoff cuts the shift short.
	for _, o := range r.Override {
		if o.Team == team && o.from.After(t) && o.from.Before(d.Until) {
			d.Until = o.from.In(r.loc)
		}
	}
	return d
}

// NowAll returns the duty of every team at t.
func (r *Roster) NowAll(t time.Time) []Duty {
	out := make([]Duty, 0, len(r.Teams))
	for _, tm := range r.Teams {
		out = append(out, r.OnDuty(tm.ID, t))
	}
	return out
}

// EscalationTargets resolves the person ids of escalation step i of team at t.
func (r *Roster) EscalationTargets(team string, step int, t time.Time) []string {
	tm := r.teams[team]
	if tm == nil || step >= len(tm.Escalation) {
		return nil
	}
	var out []string
	for _, n := range tm.Escalation[step].Notify {
		if r.people[n] != nil {
			out = append(out, n)
			continue
		}
		for _, p := range r.OnDuty(n, t).People {
			out = append(out, p.ID)
		}
	}
	return out
}

// emptyRoster is used when no roster file is configured: no SMS recipients.
func emptyRoster() *Roster {
	r := &Roster{}
	r.check(&yamlDoc{})
	return r
}

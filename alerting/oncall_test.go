package alerting

import (
	"os"
	"strings"
	"testing"
	"time"
)

func loadTestRoster(t *testing.T) *Roster {
	t.Helper()
	r, err := LoadRoster("testdata/oncall.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRosterOnDuty(t *testing.T) {
	r := loadTestRoster(t)
	loc := r.Location()
	at := func(s string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	f := func(team, when, want string) {
		t.Helper()
		d := r.OnDuty(team, at(when))
		var ids []string
		for _, p := range d.People {
			ids = append(ids, p.ID)
		}
		if got := strings.Join(ids, ","); got != want {
			t.Fatalf("%s at %s: got %q want %q (until %v)", team, when, got, want, d.Until)
		}
	}
	f("thuy-van", "2026-11-25 02:00", "an")
	f("thuy-van", "2026-11-30 07:59", "an")
	f("thuy-van", "2026-11-30 08:00", "binh")
	f("thuy-van", "2026-12-07 08:00", "an")
	f("thuy-van", "2026-11-22 08:00", "binh") // before the start: the turn before
	f("thuy-van", "2026-11-16 08:00", "binh")
	f("thuy-van", "2026-11-16 07:59", "an")
	f("thuy-van", "2027-01-01 10:00", "dung") // holiday override
	f("moi-truong", "2026-11-24 09:00", "dung")
	f("moi-truong", "2026-11-25 09:00", "cuong")
	if got := r.Route(map[string]string{"kind": "hydrological"}); got != "thuy-van" {
		t.Fatalf("route: %s", got)
	}
	if got := r.Route(map[string]string{"kind": "weather"}); got != "moi-truong" {
		t.Fatalf("default route: %s", got)
	}
	if p := r.PersonByPhone("0901000003"); p == nil || p.ID != "cuong" {
		t.Fatalf("by phone: %+v", p)
	}
	d := r.OnDuty("thuy-van", at("2026-12-31 09:00"))
	if !d.Until.Equal(at("2026-12-31 17:00")) {
		t.Fatalf("shift should end at the override: %v", d.Until)
	}
}

func TestRosterErrors(t *testing.T) {
	base, err := os.ReadFile("testdata/oncall.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f := func(from, to, want string) {
		t.Helper()
		src := strings.Replace(string(base), from, to, 1)
		_, err := ParseRoster("oncall.yaml", []byte(src))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("want error %q, got %v", want, err)
		}
	}
	f("members: [an, binh]", "members: [an, nobody]", "oncall.yaml:15: teams[0].rotation.members[1]: unknown person \"nobody\"")
	f(`phone: "0901000002"`, `phone: "abc"`, "oncall.yaml:4: people[1].phone: bad phone number")
	f("{after: 30m, notify: [giam-doc]}", "{after: 5m, notify: [giam-doc]}", "teams[0].escalation[1].after: must be later")
	f(`to: "2027-01-02 08:00"`, `to: "2026-12-01 08:00"`, "overrides[0].to: must be after from")
	f("team: moi-truong\ndefault_team", "team: nope\ndefault_team", "routes[1].team: unknown team")
	// goccy/go-yaml v1.19.2 panics on a tagged empty node where a sequence belongs.
	for _, src := range []string{"people:\n  ! 0\n0000000008:", "teams:\n  ! 0\n0000000008:"} {
		if _, err := ParseRoster("oncall.yaml", []byte(src)); err == nil ||
			!strings.Contains(err.Error(), `oncall.yaml: yaml parser failed on malformed input near line 2 "  ! 0"`) {
			t.Fatalf("%q: got %v", src, err)
		}
	}
}

func TestNormalizePhone(t *testing.T) {
	for in, want := range map[string]string{"0912345678": "+84912345678", "+84 912 345 678": "+84912345678", "84912345678": "+84912345678", "0084912345678": "+84912345678"} {
		got, err := NormalizePhone(in)
		if err != nil || got != want {
			t.Fatalf("%s: got %s %v", in, got, err)
		}
	}
	if _, err := NormalizePhone("12ab"); err == nil {
		t.Fatal("want error")
	}
}

func TestParseAckText(t *testing.T) {
	f := func(in string, ok bool, ids ...uint64) {
		t.Helper()
		got, gotOK := parseAckText(in)
		if gotOK != ok || len(got) != len(ids) {
			t.Fatalf("%q: got %v %v", in, got, gotOK)
		}
		for i := range ids {
			if got[i] != ids[i] {
				t.Fatalf("%q: got %v", in, got)
			}
		}
	}
	f("OK 123", true, 123)
	f("ok123", true, 123)
	f(" Ok #12, 13 ", true, 12, 13)
	f("XN 7", true, 7)
	f("OK", true)
	f("OKAY then", false)
	f("hello", false)
}

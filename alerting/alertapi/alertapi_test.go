package alertapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/rs/zerolog"

	"github.com/quantrac/quantrac/alerting"
	"github.com/quantrac/quantrac/model"
)

var rank = map[string]int{RoleViewer: 1, RoleOperator: 2, RoleAdmin: 3}

// guard lets a request through when its X-Role is at least role.
func guard(role string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if rank[c.Get("X-Role")] < rank[role] {
			return c.Status(403).JSON(fiber.Map{"status": "error", "errorType": "forbidden", "error": "needs " + role})
		}
		return c.Next()
	}
}

type clock struct{ t time.Time }

func (c clock) Now() time.Time { return c.t }

func setup(t *testing.T) (*fiber.App, *alerting.Engine) {
	t.Helper()
	eng, err := alerting.New(alerting.Options{DataDir: t.TempDir(), RulesDir: "../testdata/rules", RosterFile: "../testdata/oncall.yaml",
		Logger: zerolog.Nop(), Interval: time.Hour, Clock: clock{time.Date(2026, 11, 24, 19, 0, 0, 0, time.UTC)}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); eng.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; eng.Close() })
	app := fiber.New()
	Mount(app, eng, guard)
	return app, eng
}

func call(t *testing.T, app *fiber.App, method, path, role, body string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("X-Role", role)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := app.Test(req, 5000)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s %s: not JSON: %s", method, path, raw)
	}
	return resp.StatusCode, m
}

func TestRoutes(t *testing.T) {
	app, eng := setup(t)
	eng.Observe(context.Background(), []model.Sample{{Labels: model.New("water_level_m", "station", "HN-LongBien", "province", "HN", "kind", "hydrological"),
		T: time.Date(2026, 11, 24, 19, 0, 0, 0, time.UTC).UnixMilli(), V: 10.7}})
	deadline := time.Now().Add(5 * time.Second)
	for {
		if as, _ := eng.Alerts(alerting.AlertFilter{}); len(as) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no alert")
		}
		time.Sleep(5 * time.Millisecond)
	}
	code, m := call(t, app, "GET", "/api/v1/alerts?state=firing&station=HN-LongBien", RoleViewer, "")
	alerts := m["alerts"].([]any)
	if code != 200 || len(alerts) != 1 || alerts[0].(map[string]any)["level"] != "Báo động II" {
		t.Fatalf("list: %d %v", code, m)
	}
	f := func(method, path, role, body string, want int, wantErr string) map[string]any {
		t.Helper()
		code, m := call(t, app, method, path, role, body)
		if code != want {
			t.Fatalf("%s %s: status %d want %d: %v", method, path, code, want, m)
		}
		if wantErr != "" && !strings.Contains(m["error"].(string), wantErr) {
			t.Fatalf("%s %s: error %q lacks %q", method, path, m["error"], wantErr)
		}
		return m
	}
	if _, m := call(t, app, "GET", "/api/v1/alerts?province=HP", RoleViewer, ""); len(m["alerts"].([]any)) != 0 {
		t.Fatalf("province filter: %v", m)
	}
	f("GET", "/api/v1/alerts?state=burning", RoleViewer, "", 400, "state: unknown state burning")
	f("GET", "/api/v1/alerts?severity=bad", RoleViewer, "", 400, "severity: unknown")
	f("GET", "/api/v1/alerts?limit=0", RoleViewer, "", 400, "limit")
	f("POST", "/api/v1/alerts/1/ack", RoleViewer, `{"by":"x"}`, 403, "")
	f("POST", "/api/v1/alerts/abc/ack", RoleOperator, `{"by":"x"}`, 400, "alert id")
	f("POST", "/api/v1/alerts/1/ack", RoleOperator, `{"note":"x"}`, 400, "by: required")
	f("POST", "/api/v1/alerts/1/ack", RoleOperator, `{"by":`, 400, "body: want JSON")
	f("POST", "/api/v1/alerts/99/ack", RoleOperator, `{"by":"x"}`, 404, "not found")
	m = f("POST", "/api/v1/alerts/1/ack", RoleOperator, `{"by":"Nguyễn Văn An","note":"đang kiểm tra"}`, 200, "")
	if m["state"] != "acknowledged" || m["acked_by"] != "Nguyễn Văn An" {
		t.Fatalf("ack: %v", m)
	}
	m = f("POST", "/api/v1/alerts/1/resolve", RoleOperator, `{"by":"An","note":"nước rút"}`, 200, "")
	if m["state"] != "resolved" || m["resolve_note"] != "nước rút" {
		t.Fatalf("resolve: %v", m)
	}
	f("POST", "/api/v1/alerts/1/resolve", RoleOperator, `{"by":"An"}`, 409, "already resolved")
	f("GET", "/api/v1/alerts/1", RoleViewer, "", 200, "")

	f("POST", "/api/v1/silences", RoleOperator, `{"matchers":"{station=","end":"2026-11-25T10:00:00+07:00","author":"an"}`, 400, "matchers:")
	f("POST", "/api/v1/silences", RoleOperator, `{"matchers":"{station=\"HN-LongBien\"}","end":"tomorrow","author":"an"}`, 400, "end: want RFC 3339")
	f("POST", "/api/v1/silences", RoleOperator, `{"matchers":"{station=\"HN-LongBien\"}","end":"2026-11-25T10:00:00+07:00"}`, 400, "author: required")
	m = f("POST", "/api/v1/silences", RoleOperator, `{"matchers":"{station=\"HN-LongBien\"}","end":"2026-11-25T10:00:00+07:00","author":"an","comment":"bảo trì"}`, 201, "")
	id := m["id"].(string)
	m = f("GET", "/api/v1/silences", RoleViewer, "", 200, "")
	if len(m["silences"].([]any)) != 1 {
		t.Fatalf("silences: %v", m)
	}
	// The dashboard's (Alertmanager-like) body.
	m = f("POST", "/api/v1/silences", RoleOperator, `{"matchers":[{"name":"station","value":"HN-LongBien","type":"="},{"name":"kind","value":"hydro.*","isRegex":true}],"starts_at":"2026-11-25T02:00:00+07:00","ends_at":"2026-11-25T04:00:00+07:00","author":"dashboard","comment":"x"}`, 201, "")
	if m["matchers"] != `{station="HN-LongBien",kind=~"hydro.*"}` {
		t.Fatalf("matchers %v", m["matchers"])
	}
	f("POST", "/api/v1/silences", RoleOperator, `{"matchers":[{"name":"station","value":"x","type":"<"}],"end":"2026-11-25T04:00:00+07:00","author":"a"}`, 400, "matchers[0].type")
	f("DELETE", "/api/v1/silences/"+m["id"].(string), RoleOperator, "", 200, "")
	f("DELETE", "/api/v1/silences/"+id, RoleOperator, "", 200, "")
	f("DELETE", "/api/v1/silences/"+id, RoleOperator, "", 404, "not found")

	m = f("GET", "/api/v1/oncall/now", RoleViewer, "", 200, "")
	teams := m["teams"].([]any)
	tv := teams[0].(map[string]any)
	if tv["team"] != "thuy-van" || tv["people"].([]any)[0].(map[string]any)["name"] != "Nguyễn Văn An" {
		t.Fatalf("oncall: %v", tv)
	}
	people := m["people"].([]any)
	if len(people) != 5 || people[0].(map[string]any)["name"] != "Nguyễn Văn An" || people[1].(map[string]any)["level"].(float64) != 1 || people[1].(map[string]any)["after"] != "10m" {
		t.Fatalf("oncall people: %v", people)
	}
	f("POST", "/api/v1/rules/reload", RoleOperator, "", 403, "")
	m = f("POST", "/api/v1/rules/reload", RoleAdmin, "", 200, "")
	if m["rules"].(float64) != 4 {
		t.Fatalf("reload: %v", m)
	}
	m = f("GET", "/api/v1/rules", RoleViewer, "", 200, "")
	if len(m["rules"].([]any)) != 4 {
		t.Fatalf("rules: %v", m)
	}
}

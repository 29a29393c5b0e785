// Package alertapi serves the alerting engine over HTTP (fiber): list,
// acknowledge and resolve alerts, silence CRUD, who is on call now, rule
// reload. Errors are JSON {"status":"error","errorType":"...","error":"..."}
// naming what is wrong.
package alertapi

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/quantrac/quantrac/alerting"
)

// Roles the routes need (the api's token roles).
const (
	RoleViewer   = "viewer"
	RoleOperator = "operator"
	RoleAdmin    = "admin"
)

// Mount adds the alert routes under /api/v1 on r. guard(role) is the
// api's auth middleware.
//
//	GET    /api/v1/alerts?state=&severity=&station=&province=&rule=&limit=   viewer
//	GET    /api/v1/alerts/:id                                      viewer
//	POST   /api/v1/alerts/:id/ack      {"by","note"}               operator
//	POST   /api/v1/alerts/:id/resolve  {"by","note"}               operator
//	GET    /api/v1/silences                                        viewer
//	POST   /api/v1/silences  {"matchers","start","end","author","comment"}  operator
//	DELETE /api/v1/silences/:id                                    operator
//	GET    /api/v1/oncall/now                                      viewer
//	GET    /api/v1/rules                                           viewer
//	POST   /api/v1/rules/reload                                    admin
func Mount(r fiber.Router, eng *alerting.Engine, guard func(role string) fiber.Handler) {
	h := &handlers{eng: eng}
	r.Get("/api/v1/alerts", guard(RoleViewer), h.list)
	r.Get("/api/v1/alerts/:id", guard(RoleViewer), h.get)
	r.Post("/api/v1/alerts/:id/ack", guard(RoleOperator), h.ack)
	r.Post("/api/v1/alerts/:id/resolve", guard(RoleOperator), h.resolve)
	r.Get("/api/v1/silences", guard(RoleViewer), h.silences)
	r.Post("/api/v1/silences", guard(RoleOperator), h.addSilence)
	r.Delete("/api/v1/silences/:id", guard(RoleOperator), h.deleteSilence)
	r.Get("/api/v1/oncall/now", guard(RoleViewer), h.oncall)
	r.Get("/api/v1/rules", guard(RoleViewer), h.rules)
	r.Post("/api/v1/rules/reload", guard(RoleAdmin), h.reload)
}

type handlers struct{ eng *alerting.Engine }

func fail(c *fiber.Ctx, status int, typ, msg string) error {
	return c.Status(status).JSON(fiber.Map{"status": "error", "errorType": typ, "error": msg})
}

func bad(c *fiber.Ctx, msg string) error { return fail(c, fiber.StatusBadRequest, "bad_data", msg) }

// engineError maps engine errors to statuses.
func engineError(c *fiber.Ctx, err error) error {
	switch {
	case errors.Is(err, alerting.ErrNotFound):
		return fail(c, fiber.StatusNotFound, "not_found", err.Error())
	case errors.Is(err, alerting.ErrBadState):
		return fail(c, fiber.StatusConflict, "conflict", err.Error())
	}
	return fail(c, fiber.StatusInternalServerError, "internal", err.Error())
}

func (h *handlers) list(c *fiber.Ctx) error {
	var f alerting.AlertFilter
	if s := c.Query("state"); s != "" {
		st, err := alerting.ParseState(s)
		if err != nil {
			return bad(c, "state: "+err.Error())
		}
		f.State = st
	}
	if s := c.Query("severity"); s != "" {
		if s != alerting.SeverityInfo && s != alerting.SeverityWarning && s != alerting.SeverityCritical {
			return bad(c, "severity: unknown "+strconv.Quote(s)+": want info, warning or critical")
		}
		f.Severity = s
	}
	f.Station = c.Query("station")
	f.Province = c.Query("province")
	f.Rule = c.Query("rule")
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 10000 {
			return bad(c, "limit: want a number from 1 to 10000, got "+strconv.Quote(s))
		}
		f.Limit = n
	}
	alerts, err := h.eng.Alerts(f)
	if err != nil {
		return engineError(c, err)
	}
	if alerts == nil {
		alerts = []*alerting.Alert{}
	}
	return c.JSON(fiber.Map{"alerts": alerts})
}

func alertID(c *fiber.Ctx) (uint64, error) {
	s := c.Params("id")
	id, err := strconv.ParseUint(s, 10, 64)
	if err != nil || id == 0 {
		return 0, errors.New("alert id: want a positive number, got " + strconv.Quote(s))
	}
	return id, nil
}

func (h *handlers) get(c *fiber.Ctx) error {
	id, err := alertID(c)
	if err != nil {
		return bad(c, err.Error())
	}
	a, err := h.eng.Alert(id)
	if err != nil {
		return engineError(c, err)
	}
	return c.JSON(a)
}

// actionBody is the body of ack and resolve.
type actionBody struct {
	By   string `json:"by"`
	Note string `json:"note"`
}

func parseAction(c *fiber.Ctx) (actionBody, error) {
	var b actionBody
	if len(c.Body()) > 0 {
		if err := fiberJSON(c, &b); err != nil {
			return b, err
		}
	}
	b.By = strings.TrimSpace(b.By)
	if b.By == "" {
		return b, errors.New(`by: required, who takes the action, e.g. {"by":"Nguyễn Văn An"}`)
	}
	if len(b.By) > 200 || len(b.Note) > 2000 {
		return b, errors.New("by or note too long (200 / 2000 bytes)")
	}
	return b, nil
}

func fiberJSON(c *fiber.Ctx, v any) error {
	if err := c.BodyParser(v); err != nil {
		return errors.New("body: want JSON: " + err.Error())
	}
	return nil
}

func (h *handlers) ack(c *fiber.Ctx) error {
	id, err := alertID(c)
	if err != nil {
		return bad(c, err.Error())
	}
	b, err := parseAction(c)
	if err != nil {
		return bad(c, err.Error())
	}
	a, err := h.eng.Ack(c.UserContext(), id, b.By, b.Note)
	if err != nil {
		return engineError(c, err)
	}
	return c.JSON(a)
}

func (h *handlers) resolve(c *fiber.Ctx) error {
	id, err := alertID(c)
	if err != nil {
		return bad(c, err.Error())
	}
	b, err := parseAction(c)
	if err != nil {
		return bad(c, err.Error())
	}
	a, err := h.eng.Resolve(c.UserContext(), id, b.By, b.Note)
	if err != nil {
		return engineError(c, err)
	}
	return c.JSON(a)
}

func (h *handlers) silences(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"silences": h.eng.Silences()})
}

// silenceBody is the body of POST /silences. matchers is a selector string
// ({station="HN-LongBien"}) or a list of {name, value, type ("=", "!=",
// "=~", "!~") or isRegex}; times are RFC 3339 or unix ms, under start/end
// or starts_at/ends_at.
type silenceBody struct {
	ID       string `json:"id"`
	Matchers any    `json:"matchers"`
	Start    any    `json:"start"`
	End      any    `json:"end"`
	StartsAt any    `json:"starts_at"`
	EndsAt   any    `json:"ends_at"`
	Author   string `json:"author"`
	Comment  string `json:"comment"`
}

func parseTime(field string, v any) (time.Time, error) {
	switch x := v.(type) {
	case nil:
		return time.Time{}, nil
	case float64:
		return time.UnixMilli(int64(x)), nil
	case string:
		if x == "" {
			return time.Time{}, nil
		}
		if t, err := time.Parse(time.RFC3339, x); err == nil {
			return t, nil
		}
		if ms, err := strconv.ParseInt(x, 10, 64); err == nil {
			return time.UnixMilli(ms), nil
		}
	}
	return time.Time{}, errors.New(field + ": want RFC 3339 (2026-11-25T08:00:00+07:00) or unix ms")
}

// matcherString turns the matchers field into a selector string.
func matcherString(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case []any:
		parts := make([]string, 0, len(x))
		for i, it := range x {
			m, ok := it.(map[string]any)
			if !ok {
				return "", fmt.Errorf("matchers[%d]: want {name, value, type}", i)
			}
			name, _ := m["name"].(string)
			value, _ := m["value"].(string)
			op, _ := m["type"].(string)
			if op == "" {
				op = "="
				if re, _ := m["isRegex"].(bool); re {
					op = "=~"
				}
				if eq, ok := m["isEqual"].(bool); ok && !eq {
					op = map[string]string{"=": "!=", "=~": "!~"}[op]
				}
			}
			if op != "=" && op != "!=" && op != "=~" && op != "!~" {
				return "", fmt.Errorf("matchers[%d].type: want =, !=, =~ or !~, got %q", i, op)
			}
			if name == "" {
				return "", fmt.Errorf("matchers[%d].name: required", i)
			}
			parts = append(parts, name+op+strconv.Quote(value))
		}
		return "{" + strings.Join(parts, ",") + "}", nil
	}
	return "", errors.New("matchers: want a selector string or a list of {name, value, type}")
}

func (h *handlers) addSilence(c *fiber.Ctx) error {
	var b silenceBody
	if err := fiberJSON(c, &b); err != nil {
		return bad(c, err.Error())
	}
	ms, err := matcherString(b.Matchers)
	if err != nil {
		return bad(c, err.Error())
	}
	if b.Start == nil {
		b.Start = b.StartsAt
	}
	if b.End == nil {
		b.End = b.EndsAt
	}
	start, err := parseTime("start", b.Start)
	if err != nil {
		return bad(c, err.Error())
	}
	end, err := parseTime("end", b.End)
	if err != nil {
		return bad(c, err.Error())
	}
	s, err := h.eng.AddSilence(&alerting.Silence{ID: b.ID, Matchers: ms, Start: start, End: end, Author: b.Author, Comment: b.Comment})
	if err != nil {
		if strings.HasPrefix(err.Error(), "store silence") || strings.HasPrefix(err.Error(), "silence id") {
			return engineError(c, err)
		}
		return bad(c, err.Error())
	}
	return c.Status(fiber.StatusCreated).JSON(s)
}

func (h *handlers) deleteSilence(c *fiber.Ctx) error {
	if err := h.eng.DeleteSilence(c.Params("id")); err != nil {
		return engineError(c, err)
	}
	return c.JSON(fiber.Map{"status": "success"})
}

// dutyPerson is one line of the flat on-call list: level 0 is on duty,
// level n is escalation step n.
type dutyPerson struct {
	Level int       `json:"level"`
	Team  string    `json:"team"`
	Name  string    `json:"name"`
	Phone string    `json:"phone"`
	After string    `json:"after,omitempty"` // escalation delay
	Until time.Time `json:"until,omitzero"`
}

func (h *handlers) oncall(c *fiber.Ctx) error {
	teams := h.eng.OnCallNow()
	roster := h.eng.Roster()
	var people []dutyPerson
	for _, d := range teams {
		for _, p := range d.People {
			people = append(people, dutyPerson{Level: 0, Team: d.TeamName, Name: p.Name, Phone: p.Phone, Until: d.Until})
		}
		if tm := roster.Team(d.Team); tm != nil {
			for i, st := range tm.Escalation {
				for _, id := range roster.EscalationTargets(d.Team, i, h.eng.Now()) {
					if p := roster.Person(id); p != nil {
						people = append(people, dutyPerson{Level: i + 1, Team: d.TeamName, Name: p.Name, Phone: p.Phone, After: st.After})
					}
				}
			}
		}
	}
	if people == nil {
		people = []dutyPerson{}
	}
	return c.JSON(fiber.Map{"teams": teams, "people": people})
}

// ruleInfo is a rule as listed.
type ruleInfo struct {
	Name     string `json:"name"`
	Kind     string `json:"kind"`
	Select   string `json:"select,omitempty"`
	Expr     string `json:"expr,omitempty"`
	Severity string `json:"severity"`
	File     string `json:"file"`
	Line     int    `json:"line"`
	Disabled bool   `json:"disabled,omitempty"`
}

func (h *handlers) rules(c *fiber.Ctx) error {
	rs := h.eng.Rules()
	out := make([]ruleInfo, 0, len(rs))
	for _, r := range rs {
		out = append(out, ruleInfo{Name: r.Name, Kind: r.Kind, Select: r.Select, Expr: r.Expr, Severity: r.Severity, File: r.File(), Line: r.Line(), Disabled: r.Disabled})
	}
	return c.JSON(fiber.Map{"rules": out})
}

func (h *handlers) reload(c *fiber.Ctx) error {
	if err := h.eng.Reload(); err != nil {
		var ce alerting.ConfigErrors
		if errors.As(err, &ce) {
			msgs := make([]string, len(ce))
			for i, e := range ce {
				msgs[i] = e.Error()
			}
			return c.Status(fiber.StatusBadRequest).JSON(fiber.Map{"status": "error", "errorType": "bad_data", "error": err.Error(), "errors": msgs})
		}
		return fail(c, fiber.StatusInternalServerError, "internal", err.Error())
	}
	return c.JSON(fiber.Map{"status": "success", "rules": len(h.eng.Rules())})
}

package api

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/quantrac/quantrac/alerting"
	"github.com/quantrac/quantrac/alerting/alertapi"
	"github.com/quantrac/quantrac/alerting/receivers"
	"github.com/quantrac/quantrac/dashboard"
	"github.com/quantrac/quantrac/model"
	"github.com/quantrac/quantrac/standards"
)

// wire starts the parts hosted by the server as configured: the alert
// engine, the AQI job and the dashboard.
func (s *Server) wire() error {
	if s.cfg.AQI.Enabled {
		opts := standards.DefaultAQIJobOptions()
		opts.Location = s.loc
		opts.Interval = s.cfg.AQI.Interval
		opts.Logger = s.log.With().Str("component", "aqi").Logger()
		job, err := standards.NewAQIJob(s.store, s.store, opts)
		if err != nil {
			return fmt.Errorf("aqi job: %w", err)
		}
		s.AddJob(job)
	}
	if s.cfg.Alerting.Enabled {
		var recv []alerting.Receiver
		if path := s.cfg.Alerting.Receivers; path != "" {
			set, err := receivers.Load(path, s.log.With().Str("component", "receivers").Logger())
			if err != nil {
				return fmt.Errorf("alerting receivers: %w", err)
			}
			s.receivers = set
			recv = set.Receivers
		}
		eng, err := alerting.New(alerting.Options{
			Receivers:  recv,
			Reader:     s.store,
			Query:      s.promQueryFunc(),
			DataDir:    filepath.Join(s.cfg.DataDir, "alerting"),
			RulesDir:   s.cfg.Alerting.RulesDir,
			RosterFile: s.cfg.Alerting.Roster,
			LateAfter:  s.cfg.Alerting.LateAfter,
			Logger:     s.log,
			// Live lookup: stations a collector registers after start get
			// their Vietnamese names in SMS too, not only those known at start.
			StationName: func(id string) string {
				st, _ := s.stations.Get(id)
				return st.Name
			},
		})
		if err != nil {
			return fmt.Errorf("alerting: %w", err)
		}
		eng.SetStations(s.stations.List())
		s.alerts = eng
		s.AddObserver(eng)
		s.AddJob(eng)
		alertapi.Mount(s.app, eng, s.guard)
		if s.receivers != nil {
			s.AddJob(jobFunc(func(ctx context.Context) error {
				s.receivers.Start(ctx)
				<-ctx.Done()
				return nil
			}))
		}
	}
	return nil
}

// jobFunc adapts a function to Job.
type jobFunc func(ctx context.Context) error

func (f jobFunc) Run(ctx context.Context) error { return f(ctx) }

// promQueryFunc evaluates an instant PromQL query for alert rules.
func (s *Server) promQueryFunc() alerting.QueryFunc {
	return func(ctx context.Context, expr string, at time.Time) ([]model.Sample, error) {
		q, err := s.prom.engine.NewInstantQuery(ctx, s.prom.rawQueryable(), nil, expr, at)
		if err != nil {
			return nil, err
		}
		defer q.Close()
		res := q.Exec(ctx)
		if res.Err != nil {
			return nil, res.Err
		}
		vec, err := res.Vector()
		if err != nil {
			return nil, fmt.Errorf("promql %q: %w", expr, err)
		}
		out := make([]model.Sample, 0, len(vec))
		for _, smp := range vec {
			ls := make(model.Labels, 0, smp.Metric.Len())
			smp.Metric.Range(func(l labels.Label) { ls = append(ls, model.Label{Name: l.Name, Value: l.Value}) })
			out = append(out, model.Sample{Labels: ls, T: smp.T, V: smp.F})
		}
		return out, nil
	}
}

// mountDashboard serves the embedded dashboard at / for viewers. Opening it
// with ?token= sets a cookie so that its assets load with the same token.
func (s *Server) mountDashboard() {
	h := adaptor.HTTPHandler(dashboard.Handler())
	s.app.Use("/", func(c *fiber.Ctx) error {
		if c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead {
			return c.Next()
		}
		p := c.Path()
		if p == "/api" || len(p) > 4 && p[:5] == "/api/" {
			return c.Next()
		}
		pr, err := s.authenticate(c)
		if err == nil && !roleAllows(pr.Role, RoleViewer) {
			err = newHTTPError(fiber.StatusForbidden, errForbidden, "token %q has role %s; the dashboard needs viewer", pr.Name, pr.Role)
		}
		if err != nil {
			if p == "/" || p == "/index.html" {
				c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
				status := fiber.StatusUnauthorized
				var he *httpError
				if errors.As(err, &he) {
					status = he.status
				}
				return c.Status(status).SendString(`<!doctype html><meta charset="utf-8"><title>quantrac</title>` +
					`<p>Cần mã truy cập: thêm <code>?token=...</code> vào địa chỉ.</p><p>An access token is needed: add <code>?token=...</code> to the address.</p>`)
			}
			return err
		}
		if tok, from := requestToken(c); from == "query" {
			c.Cookie(&fiber.Cookie{Name: TokenCookie, Value: tok, Path: "/", HTTPOnly: true, SameSite: "Strict", Secure: s.cfg.TLS.CertFile != ""})
		}
		return h(c)
	})
}

package api

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/quantrac/quantrac/model"
	"github.com/quantrac/quantrac/standards"
)

// csvWindow is how much raw data one storage query of the CSV export
// covers, so memory stays bounded whatever the range.
const csvWindow = 7 * 24 * time.Hour

// csvTimeLayout is the local time format of the CSV time column.
const csvTimeLayout = "2006-01-02 15:04:05"

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// csvField quotes a CSV field when it needs it (RFC 4180).
func csvField(s string) string {
	if strings.ContainsAny(s, ",\"\r\n") {
		return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
	}
	return s
}

// handleExportCSV is GET /api/v1/export.csv?station=A,B&param=p,q&from=&to=&step=&agg=&tz=&quality=.
// One row per station and time, one column per parameter (with
// quality=all and raw points, each followed by <param>_status: 00, 01,
// 02, 00+spike...); UTF-8 with BOM
// and local times so Excel and LibreOffice open it as is. The answer is
// streamed window by window.
func (s *Server) handleExportCSV(c *fiber.Ctx) error {
	if err := checkParams(c, "station", "param", "from", "to", "step", "agg", "tz", "quality"); err != nil {
		return err
	}
	stations := splitList(c.Query("station"))
	if len(stations) == 0 {
		return badRequest("station: parameter is required (comma-separated station ids)")
	}
	params := splitList(c.Query("param"))
	for _, p := range params {
		if !model.ValidMetricName(p) {
			return badRequest("param %q is not a series name", p)
		}
	}
	q, err := s.parseSeriesQuery(c, nil, true)
	if err != nil {
		return err
	}
	p := principalOf(c)
	ctx := c.UserContext()
	// The series names each station has, so that a typo in station or
	// param is a 400 naming it rather than an empty file.
	known := map[string]bool{}
	for _, st := range stations {
		ms := scopeMatchers(p, []*model.Matcher{model.MustMatcher(model.MatchEqual, model.LabelStation, st)})
		vals, err := s.store.LabelValues(ctx, model.MetricName, ms)
		if err != nil {
			return err
		}
		if len(vals) == 0 {
			return badRequest("station %q: no series in scope (check the station id)", st)
		}
		for _, v := range vals {
			known[v] = true
		}
	}
	if len(params) == 0 {
		for v := range known {
			params = append(params, v)
		}
		sort.Strings(params)
	}
	for _, name := range params {
		if !known[name] {
			names := make([]string, 0, len(known))
			for v := range known {
				names = append(names, v)
			}
			sort.Strings(names)
			return badRequest("param %q: station %s has no such series (it has: %s)", name, strings.Join(stations, ","), strings.Join(names, ", "))
		}
	}
	col := make(map[string]int, len(params))
	quoted := make([]string, len(params))
	for i, p := range params {
		col[p] = i
		quoted[i] = regexp.QuoteMeta(p)
	}
	nameRe := strings.Join(quoted, "|")
	filename := fmt.Sprintf("quantrac_%s_%s.csv",
		time.UnixMilli(q.from).In(q.loc).Format("20060102"), time.UnixMilli(q.to).In(q.loc).Format("20060102"))
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+filename+`"`)
	log := s.log
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		ctx, cancel := context.WithTimeout(s.ctx, 30*time.Minute)
		defer cancel()
		w.WriteString("\ufeff")
		w.WriteString("time,station")
		for _, p := range params {
			w.WriteByte(',')
			w.WriteString(csvField(p))
			if q.includeBad && q.step == 0 {
				w.WriteString("," + csvField(p+"_status"))
			}
		}
		w.WriteString("\r\n")
		if err := s.writeCSVRows(ctx, w, q, p, stations, nameRe, col); err != nil {
			log.Error().Err(err).Msg("csv export")
			fmt.Fprintf(w, "# export stopped: %s\r\n", strings.ReplaceAll(err.Error(), "\n", " "))
		}
		w.Flush()
	})
	return nil
}

func (s *Server) writeCSVRows(ctx context.Context, w *bufio.Writer, q seriesQuery, p principal, stations []string, nameRe string, col map[string]int) error {
	ncol := len(col)
	for _, st := range stations {
		ms := scopeMatchers(p, []*model.Matcher{
			model.MustMatcher(model.MatchEqual, model.LabelStation, st),
			model.MustMatcher(model.MatchRegexp, model.MetricName, nameRe),
		})
		stField := csvField(st)
		windows := [][2]int64{{q.from, q.to}}
		if q.step == 0 {
			windows = windows[:0]
			for a := q.from; a <= q.to; a += csvWindow.Milliseconds() {
				b := a + csvWindow.Milliseconds() - 1
				if b > q.to {
					b = q.to
				}
				windows = append(windows, [2]int64{a, b})
			}
		}
		for _, win := range windows {
			rows := map[int64][]float64{}
			quals := map[int64][]model.Quality{}
			withQ := q.includeBad && q.step == 0
			wq := q
			wq.ms, wq.from, wq.to = ms, win[0], win[1]
			err := s.runSeriesQuery(ctx, wq, func(ls model.Labels, pts []model.Point) error {
				i, ok := col[ls.Metric()]
				if !ok {
					return nil
				}
				for _, pt := range pts {
					r := rows[pt.T]
					if r == nil {
						r = make([]float64, ncol)
						for k := range r {
							r[k] = math.NaN()
						}
						rows[pt.T] = r
					}
					r[i] = pt.V
					if withQ {
						qr := quals[pt.T]
						if qr == nil {
							qr = make([]model.Quality, ncol)
							quals[pt.T] = qr
						}
						qr[i] = pt.Q
					}
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("station %s: %w", st, err)
			}
			ts := make([]int64, 0, len(rows))
			for t := range rows {
				ts = append(ts, t)
			}
			sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
			var buf []byte
			for _, t := range ts {
				buf = buf[:0]
				buf = time.UnixMilli(t).In(q.loc).AppendFormat(buf, csvTimeLayout)
				buf = append(buf, ',')
				buf = append(buf, stField...)
				for i, v := range rows[t] {
					buf = append(buf, ',')
					if !math.IsNaN(v) {
						buf = strconv.AppendFloat(buf, v, 'f', -1, 64)
					}
					if withQ {
						buf = append(buf, ',')
						if !math.IsNaN(v) {
							buf = append(buf, quals[t][i].String()...)
						}
					}
				}
				buf = append(buf, '\r', '\n')
				if _, err := w.Write(buf); err != nil {
					return err
				}
			}
			if err := w.Flush(); err != nil {
				return fmt.Errorf("client went away: %w", err)
			}
		}
	}
	return nil
}

// handleCompleteness is GET /api/v1/completeness?date=YYYY-MM-DD[&station=][&tz=]:
// per series, samples expected, received and with status 00 on that local
// day (standards.DailyCompleteness).
func (s *Server) handleCompleteness(c *fiber.Ctx) error {
	if err := checkParams(c, "date", "station", "tz"); err != nil {
		return err
	}
	loc, err := s.loadTZ(c.Query("tz"))
	if err != nil {
		return err
	}
	ds := c.Query("date")
	if ds == "" {
		ds = time.Now().In(loc).Format("2006-01-02")
	}
	day, err := time.ParseInLocation("2006-01-02", ds, loc)
	if err != nil {
		return badRequest("date %q: want YYYY-MM-DD", ds)
	}
	ms := []*model.Matcher{model.MustMatcher(model.MatchNotEqual, model.LabelStation, "")}
	if st := c.Query("station"); st != "" {
		ms = []*model.Matcher{model.MustMatcher(model.MatchEqual, model.LabelStation, st)}
	}
	ms = scopeMatchers(principalOf(c), ms)
	rows, err := standards.DailyCompleteness(c.UserContext(), s.store, day, standards.CompletenessOptions{Location: loc, Matchers: ms})
	if err != nil {
		return err
	}
	if rows == nil {
		rows = []standards.Completeness{}
	}
	return c.JSON(fiber.Map{"date": ds, "timezone": loc.String(), "series": rows})
}

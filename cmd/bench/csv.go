package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/quantrac/quantrac/model"
)

// timeColumns are the CSV columns that make the timestamp, not series.
var timeColumns = map[string]bool{"no": true, "year": true, "month": true, "day": true, "hour": true}

// metricName turns a CSV header into a metric name: "PM2.5" -> "pm2_5".
func metricName(h string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(h) {
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') {
			b.WriteRune(c)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// loadCSVDir reads every *.csv file of dir (one station each: year, month,
// day, hour in UTC+8, numeric columns, station; NA for gaps) into samples,
// file by file, row by row.
func loadCSVDir(dir string) ([]model.Sample, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.csv"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no *.csv files in %s", dir)
	}
	sort.Strings(files)
	loc := time.FixedZone("UTC+8", 8*3600)
	var out []model.Sample
	for _, f := range files {
		out, err = loadCSV(f, loc, out)
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func loadCSV(path string, loc *time.Location, out []model.Sample) ([]model.Sample, error) {
	f, err := os.Open(path)
	if err != nil {
		return out, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.ReuseRecord = true
	hdr, err := r.Read()
	if err != nil {
		return out, fmt.Errorf("%s: read header: %w", path, err)
	}
	cols := map[string]int{}
	for i, h := range hdr {
		cols[strings.ToLower(h)] = i
	}
	for _, c := range []string{"year", "month", "day", "hour", "station"} {
		if _, ok := cols[c]; !ok {
			return out, fmt.Errorf("%s: no %q column", path, c)
		}
	}
	type col struct {
		idx  int
		ls   model.Labels // built on first use (needs the station)
		bad  bool
		name string
	}
	var vcols []*col
	for i, h := range hdr {
		lh := strings.ToLower(h)
		if timeColumns[lh] || lh == "station" {
			continue
		}
		vcols = append(vcols, &col{idx: i, name: metricName(h)})
	}
	start := len(out)
	line := 1
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		line++
		if err != nil {
			return out, fmt.Errorf("%s line %d: %w", path, line, err)
		}
		num := func(c string) (int, error) { return strconv.Atoi(rec[cols[c]]) }
		y, e1 := num("year")
		m, e2 := num("month")
		d, e3 := num("day")
		h, e4 := num("hour")
		if e1 != nil || e2 != nil || e3 != nil || e4 != nil {
			return out, fmt.Errorf("%s line %d: bad date", path, line)
		}
		t := time.Date(y, time.Month(m), d, h, 0, 0, 0, loc).UnixMilli()
		station := rec[cols["station"]]
		for _, c := range vcols {
			if c.bad {
				continue
			}
			s := rec[c.idx]
			if s == "NA" || s == "" {
				continue
			}
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				c.bad = true // a text column such as wind direction
				continue
			}
			if c.ls == nil {
				c.ls = model.New(c.name, "station", station)
			}
			out = append(out, model.Sample{Labels: c.ls, T: t, V: v})
		}
	}
	// Drop samples of columns that turned out to be text.
	kept := out[:start]
	bad := map[string]bool{}
	for _, c := range vcols {
		if c.bad {
			bad[c.name] = true
		}
	}
	for _, s := range out[start:] {
		if !bad[s.Labels.Metric()] {
			kept = append(kept, s)
		}
	}
	return kept, nil
}

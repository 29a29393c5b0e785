package simulator

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// beijingColumns are the columns of the Beijing Multi-Site Air Quality CSV
// files, in order.
var beijingColumns = []string{"No", "year", "month", "day", "hour", "PM2.5", "PM10", "SO2", "NO2", "CO", "O3", "TEMP", "PRES", "DEWP", "RAIN", "wd", "WSPM", "station"}

// beijingParams maps series names onto numeric columns of the file.
var beijingParams = map[string]string{
	"pm25_ugm3":     "PM2.5",
	"pm10_ugm3":     "PM10",
	"so2_ugm3":      "SO2",
	"no2_ugm3":      "NO2",
	"co_ugm3":       "CO", // the file gives CO in µg/m³ already
	"o3_ugm3":       "O3",
	"temperature_c": "TEMP",
	"pressure_hpa":  "PRES",
	"dew_point_c":   "DEWP",
	"rainfall_mm":   "RAIN",
	"wind_speed_ms": "WSPM",
}

// compass maps the 16 compass points of the wd column onto degrees.
var compass = map[string]float64{
	"N": 0, "NNE": 22.5, "NE": 45, "ENE": 67.5, "E": 90, "ESE": 112.5, "SE": 135, "SSE": 157.5,
	"S": 180, "SSW": 202.5, "SW": 225, "WSW": 247.5, "W": 270, "WNW": 292.5, "NW": 315, "NNW": 337.5,
}

// beijingZone is the file's local time, China Standard Time.
var beijingZone = time.FixedZone("CST", 8*3600)

// Replay is one Beijing station's hourly record, replayed on simulated time.
//
// The time shift keeps the local clock time: a row of 08:00 in Beijing
// (UTC+8) plays at 08:00 in Việt Nam (UTC+7), on the day that is StartDate
// plus as many days as have passed since the simulator started. After the
// last row the record starts again from the first. A missing value (NA) is
// no sample, never 0.
type Replay struct {
	Station string    // station column, e.g. "Dongsi"
	First   time.Time // clock time of the first row (as UTC fields)
	Hours   int       // rows covered, one per hour
	Skipped int       // malformed rows skipped while loading
	// SkipErr is the first malformed row's error, nil when none.
	SkipErr error

	cols  map[string][]float64 // column → value per hour, NaN for NA
	shift time.Duration        // file clock = local clock - shift
}

// ErrNoRows is returned when a replay file has no usable row.
var ErrNoRows = errors.New("no data rows")

// LoadReplay reads a Beijing CSV file.
func LoadReplay(path string) (*Replay, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("beijing replay: %w", err)
	}
	defer f.Close()
	r, err := ParseReplay(f)
	if err != nil {
		return nil, fmt.Errorf("beijing replay %s: %w", path, err)
	}
	return r, nil
}

// beijingRow is one parsed row: numeric columns in beijingNumeric order,
// then wd in degrees; NaN for NA.
type beijingRow struct {
	clock time.Time
	vals  [12]float64
}

// beijingNumeric are the numeric columns, in beijingRow order.
var beijingNumeric = []string{"PM2.5", "PM10", "SO2", "NO2", "CO", "O3", "TEMP", "PRES", "DEWP", "RAIN", "WSPM"}

const beijingWD = 11 // index of wd in beijingRow.vals

// ParseReplay reads Beijing CSV data. Rows that cannot be parsed are
// skipped and counted (Skipped, SkipErr); only a wrong header or a file
// without any good row is an error.
func ParseReplay(in io.Reader) (*Replay, error) {
	cr := csv.NewReader(in)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("read header: %w", err)
	}
	idx := map[string]int{}
	for i, h := range header {
		idx[strings.TrimSpace(h)] = i
	}
	for _, c := range beijingColumns[1:] {
		if _, ok := idx[c]; !ok {
			return nil, fmt.Errorf("header: missing column %q (want %s)", c, strings.Join(beijingColumns, ","))
		}
	}
	rp := &Replay{cols: map[string][]float64{}}
	var rows []beijingRow
	line := 1
	for {
		rec, err := cr.Read()
		line++
		if err == io.EOF {
			break
		}
		if err != nil {
			rp.skip(fmt.Errorf("line %d: %w", line, err))
			continue
		}
		row, station, err := parseBeijingRow(rec, idx)
		if err != nil {
			rp.skip(fmt.Errorf("line %d: %w", line, err))
			continue
		}
		if rp.Station == "" {
			rp.Station = strings.Clone(station) // the record is reused
		}
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		if rp.SkipErr != nil {
			return nil, fmt.Errorf("%w (first error: %v)", ErrNoRows, rp.SkipErr)
		}
		return nil, ErrNoRows
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].clock.Before(rows[j].clock) })
	rp.First = rows[0].clock
	rp.Hours = int(rows[len(rows)-1].clock.Sub(rp.First)/time.Hour) + 1
	cols := make([][]float64, len(beijingNumeric)+1)
	for i := range cols {
		col := make([]float64, rp.Hours)
		for j := range col {
			col[j] = math.NaN() // hours without a row are gaps
		}
		cols[i] = col
	}
	for _, r := range rows {
		h := int(r.clock.Sub(rp.First) / time.Hour)
		for i, v := range r.vals {
			cols[i][h] = v
		}
	}
	for i, c := range beijingNumeric {
		rp.cols[c] = cols[i]
	}
	rp.cols["wd"] = cols[beijingWD]
	return rp, nil
}

func (r *Replay) skip(err error) {
	r.Skipped++
	if r.SkipErr == nil {
		r.SkipErr = err
	}
}

func parseBeijingRow(rec []string, idx map[string]int) (beijingRow, string, error) {
	get := func(c string) string {
		i := idx[c]
		if i >= len(rec) {
			return ""
		}
		return strings.TrimSpace(rec[i])
	}
	var ymdh [4]int
	for i, c := range []string{"year", "month", "day", "hour"} {
		n, err := strconv.Atoi(get(c))
		if err != nil {
			return beijingRow{}, "", fmt.Errorf("column %s: %w", c, err)
		}
		ymdh[i] = n
	}
	if ymdh[1] < 1 || ymdh[1] > 12 || ymdh[2] < 1 || ymdh[2] > 31 || ymdh[3] < 0 || ymdh[3] > 23 {
		return beijingRow{}, "", fmt.Errorf("bad date %d-%d-%d hour %d", ymdh[0], ymdh[1], ymdh[2], ymdh[3])
	}
	row := beijingRow{clock: time.Date(ymdh[0], time.Month(ymdh[1]), ymdh[2], ymdh[3], 0, 0, 0, time.UTC)}
	for i, c := range beijingNumeric {
		row.vals[i] = math.NaN()
		s := get(c)
		if s == "NA" || s == "" {
			continue
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return beijingRow{}, "", fmt.Errorf("column %s: bad number %q", c, s)
		}
		row.vals[i] = v
	}
	row.vals[beijingWD] = math.NaN()
	if wd := get("wd"); wd != "NA" && wd != "" {
		deg, ok := compass[wd]
		if !ok {
			return beijingRow{}, "", fmt.Errorf("column wd: unknown compass point %q", wd)
		}
		row.vals[beijingWD] = deg
	}
	return row, get("station"), nil
}

// SetStart anchors the replay: simulated instant simStart plays the row of
// the same local clock hour on date start (year, month, day of start; its
// zone is ignored). A zero start picks the same month and day in the file's
// last complete year that has it.
func (r *Replay) SetStart(simStart time.Time, start time.Time, loc *time.Location) {
	l := simStart.In(loc)
	today := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, time.UTC)
	if start.IsZero() {
		last := r.First.Add(time.Duration(r.Hours-1) * time.Hour)
		for y := last.Year(); y >= r.First.Year(); y-- {
			d := time.Date(y, l.Month(), l.Day(), 0, 0, 0, 0, time.UTC)
			if d.Month() == l.Month() && !d.Before(r.First) && d.Add(24*time.Hour).Before(last.Add(time.Hour)) {
				start = d
				break
			}
		}
		if start.IsZero() {
			start = r.First
		}
	}
	start = time.Date(start.Year(), start.Month(), start.Day(), 0, 0, 0, 0, time.UTC)
	r.shift = today.Sub(start)
}

// FileClock returns the file's local clock time whose row plays at
// simulated instant t (as UTC fields, before wrapping around).
func (r *Replay) FileClock(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	clock := time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), 0, 0, 0, time.UTC)
	return clock.Add(-r.shift)
}

// row returns the hour index played at simulated instant t.
func (r *Replay) row(t time.Time, loc *time.Location) int {
	h := int(r.FileClock(t, loc).Sub(r.First) / time.Hour)
	h %= r.Hours
	if h < 0 {
		h += r.Hours
	}
	return h
}

// Value returns column col at simulated instant t; ok is false for NA.
func (r *Replay) Value(col string, t time.Time, loc *time.Location) (float64, bool) {
	c := r.cols[col]
	if c == nil {
		return 0, false
	}
	v := c[r.row(t, loc)]
	if math.IsNaN(v) {
		return 0, false
	}
	return v, true
}

// Signal returns the replayed signal of a series name, or nil when the file
// does not have it. Humidity is derived from TEMP and DEWP.
func (r *Replay) Signal(param string) Signal {
	loc := VietnamTime
	if col, ok := beijingParams[param]; ok {
		return SignalFunc(func(t time.Time) (float64, bool) { return r.Value(col, t, loc) })
	}
	switch param {
	case "wind_direction_deg":
		return SignalFunc(func(t time.Time) (float64, bool) { return r.Value("wd", t, loc) })
	case "humidity_percent":
		return SignalFunc(func(t time.Time) (float64, bool) {
			temp, ok1 := r.Value("TEMP", t, loc)
			dew, ok2 := r.Value("DEWP", t, loc)
			if !ok1 || !ok2 {
				return 0, false
			}
			return round(RelativeHumidity(temp, dew), 1), true
		})
	}
	return nil
}

// ReplayFiles lists the Beijing CSV files of a directory by station name
// (the part of PRSA_Data_<station>_<dates>.csv, or the file name without
// extension).
func ReplayFiles(dir string) (map[string]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("beijing replay dir: %w", err)
	}
	out := map[string]string{}
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(strings.ToLower(e.Name()), ".csv") {
			continue
		}
		name := strings.TrimSuffix(e.Name(), filepath.Ext(e.Name()))
		if parts := strings.Split(name, "_"); len(parts) >= 3 && parts[0] == "PRSA" {
			name = parts[2]
		}
		out[name] = filepath.Join(dir, e.Name())
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("beijing replay dir %s: no .csv files", dir)
	}
	return out, nil
}

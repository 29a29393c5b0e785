package standards

import (
	"encoding/csv"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// beijingFile is two weeks of one station of the Beijing Multi-Site Air
// Quality data (UCI dataset 501, CC BY 4.0; see testdata/README.md): the
// New Year 2017 haze, with missing CO hours and one missing PM hour.
const beijingFile = "testdata/beijing_dongsi_20161228-20170110.csv"

// beijingLoc is China Standard Time, the data's clock.
var beijingLoc = time.FixedZone("CST", 8*3600)

// loadBeijing reads the slice into StationHours (CO is in µg/m³ there too).
func loadBeijing(t testing.TB) *StationHours {
	t.Helper()
	f, err := os.Open(beijingFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", beijingFile, err)
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	cols := map[Pollutant]string{PM25: "PM2.5", PM10: "PM10", SO2: "SO2", NO2: "NO2", CO: "CO", O3: "O3"}
	at := func(r []string) time.Time {
		n := func(name string) int {
			v, err := strconv.Atoi(r[col[name]])
			if err != nil {
				t.Fatalf("%s: %s %q: %v", beijingFile, name, r[col[name]], err)
			}
			return v
		}
		return time.Date(n("year"), time.Month(n("month")), n("day"), n("hour"), 0, 0, 0, beijingLoc)
	}
	start := at(rows[1])
	s := NewStationHours(start.UnixMilli(), len(rows)-1)
	for _, r := range rows[1:] {
		i := s.HourIndex(at(r).UnixMilli())
		for p, name := range cols {
			if v := r[col[name]]; v != "NA" {
				x, err := strconv.ParseFloat(v, 64)
				if err != nil {
					t.Fatalf("%s: %s %q: %v", beijingFile, name, v, err)
				}
				s.Set(p, i, x)
			}
		}
	}
	return s
}

func fmtSub(s SubIndex) string {
	if !s.OK {
		return "-"
	}
	return fmt.Sprintf("%d(%.1f)", s.AQI(), s.Conc)
}

// beijingReport renders the hourly and daily VN_AQI of the slice, one line
// per hour and per day: time, overall, dominant, then each sub-index as
// AQI(concentration used), "-" when missing.
func beijingReport(s *StationHours) string {
	var b strings.Builder
	b.WriteString("# VN_AQI (Decision 1459/QĐ-TCMT) of " + beijingFile + "\n")
	b.WriteString("# hourly: hour start (UTC+8), AQI^h, dominant, pm25 pm10 o3 co so2 no2 as AQI(conc; NowCast for PM)\n")
	row := func(kind, at string, r Result) {
		aqi, dom := "-", "-"
		if r.OK {
			aqi, dom = strconv.Itoa(r.AQI), r.Dominant.String()
		}
		fmt.Fprintf(&b, "%s %s %s %s", kind, at, aqi, dom)
		for _, p := range Pollutants() {
			b.WriteString(" " + fmtSub(r.Sub[p]))
		}
		b.WriteByte('\n')
	}
	for i := 0; i < s.Len(); i++ {
		row("H", time.UnixMilli(s.HourStart(i)).In(beijingLoc).Format("2006-01-02T15"), HourlyVNAQI(s, i))
	}
	b.WriteString("# daily: day (00:00-24:00 UTC+8), AQI^d, dominant, pm25 pm10 (24 h mean) o3 (max of 1 h / 8 h) co so2 no2 (1 h max); then O3 1h / 8h candidates\n")
	for i := 0; i+24 <= s.Len(); i += 24 {
		r := DailyVNAQI(s, i, DailyOptions{})
		row("D", time.UnixMilli(s.HourStart(i)).In(beijingLoc).Format("2006-01-02"), r)
		fmt.Fprintf(&b, "O3 %s 1h=%s 8h=%s\n", time.UnixMilli(s.HourStart(i)).In(beijingLoc).Format("2006-01-02"), fmtSub(r.O3Hour1), fmtSub(r.O3Hour8))
	}
	return b.String()
}

// TestBeijingGolden checks hourly and daily VN_AQI over real data against
// testdata/beijing_dongsi_vnaqi.golden (regenerate with -update, then review).
func TestBeijingGolden(t *testing.T) {
	s := loadBeijing(t)
	got := beijingReport(s)
	golden := filepath.Join("testdata", "beijing_dongsi_vnaqi.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run TestBeijingGolden -update)", err)
	}
	if got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) && i < len(wl); i++ {
			if gl[i] != wl[i] {
				t.Fatalf("line %d differs:\n got %s\nwant %s", i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("length differs: got %d lines, want %d", len(gl), len(wl))
	}
}

// Hand-checked values of the golden file.
func TestBeijingHandChecked(t *testing.T) {
	s := loadBeijing(t)
	at := func(y int, m time.Month, d, h int) int {
		return s.HourIndex(time.Date(y, m, d, h, 0, 0, 0, beijingLoc).UnixMilli())
	}
	// 2017-01-01 00:00: the PM10 NowCast of the 12 hours to 00:00 is
	// 605.5 µg/m³, above the last PM10 breakpoint (Bảng 2 row 8: ≥ 600) →
	// 500; the PM2.5 NowCast is 497.3 → 300 + 100/150 × 147.3 = 498.2 → 498.
	r := HourlyVNAQI(s, at(2017, 1, 1, 0))
	if !r.OK || r.AQI != 500 || r.Dominant != PM10 || r.Sub[PM25].AQI() != 498 || round1(r.Sub[PM25].Conc) != 497.3 {
		t.Errorf("2017-01-01 00h: %+v", r)
	}
	// CO is missing from 2017-01-03 22:00: no CO sub-index, the overall still exists.
	r = HourlyVNAQI(s, at(2017, 1, 3, 22))
	if r.Sub[CO].OK || !r.OK {
		t.Errorf("2017-01-03 22h: %+v", r)
	}
	// Daily PM2.5 of 2016-12-28 by hand: mean of the 24 hourly values.
	var sum float64
	n := 0
	for h := 0; h < 24; h++ {
		if v := s.At(PM25, at(2016, 12, 28, h)); !math.IsNaN(v) {
			sum += v
			n++
		}
	}
	d := DailyVNAQI(s, at(2016, 12, 28, 0), DailyOptions{})
	mean := sum / float64(n)
	want, _ := VNPM25.Index(mean)
	if !d.Sub[PM25].OK || d.Sub[PM25].Conc != mean || d.Sub[PM25].AQI() != RoundAQI(want) {
		t.Errorf("2016-12-28 daily PM2.5: %+v; want mean %v → %d", d.Sub[PM25], mean, RoundAQI(want))
	}
}

package simulator

import (
	"encoding/csv"
	"errors"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

const dongsiSlice = "testdata/beijing/PRSA_Data_Dongsi_20161227-20161229.csv"

// fileRows reads the test slice independently of the replay code: clock
// time → column → text.
func fileRows(t *testing.T) (map[time.Time]map[string]string, []string) {
	t.Helper()
	f, err := os.Open(dongsiSlice)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	head := recs[0]
	out := map[time.Time]map[string]string{}
	for _, r := range recs[1:] {
		m := map[string]string{}
		for i, h := range head {
			m[h] = r[i]
		}
		n := func(k string) int { v, _ := strconv.Atoi(m[k]); return v }
		out[time.Date(n("year"), time.Month(n("month")), n("day"), n("hour"), 0, 0, 0, time.UTC)] = m
	}
	return out, head
}

func TestReplayEqualsFileRows(t *testing.T) {
	rp, err := LoadReplay(dongsiSlice)
	if err != nil {
		t.Fatal(err)
	}
	if rp.Station != "Dongsi" || rp.Hours != 72 || rp.Skipped != 0 {
		t.Fatalf("loaded %q, %d hours, %d skipped; want Dongsi, 72, 0", rp.Station, rp.Hours, rp.Skipped)
	}
	// The simulator starts at 09:20 local on 2026-11-25 and plays 2016-12-27.
	simStart := time.Date(2026, 11, 25, 9, 20, 0, 0, VietnamTime)
	rp.SetStart(simStart, time.Date(2016, 12, 27, 0, 0, 0, 0, time.UTC), VietnamTime)
	rows, _ := fileRows(t)
	sigs := map[string]Signal{}
	for p := range beijingParams {
		sigs[p] = rp.Signal(p)
	}
	sigs["wind_direction_deg"] = rp.Signal("wind_direction_deg")
	hum := rp.Signal("humidity_percent")
	na, checked := 0, 0
	// Every hour of the three days, at a few minutes past the hour.
	for h := 0; h < 72; h++ {
		at := time.Date(2026, 11, 25, 0, 17, 0, 0, VietnamTime).Add(time.Duration(h) * time.Hour)
		l := at.In(VietnamTime)
		fileClock := time.Date(2016, 12, 27+(l.Day()-25), l.Hour(), 0, 0, 0, time.UTC)
		row := rows[fileClock]
		if row == nil {
			t.Fatalf("no file row for %s", fileClock)
		}
		for p, sig := range sigs {
			col := beijingParams[p]
			if p == "wind_direction_deg" {
				col = "wd"
			}
			v, ok := sig.At(at)
			text := row[col]
			if text == "NA" {
				na++
				if ok {
					t.Errorf("%s %s: file NA, replay gave %v (want no sample)", at, p, v)
				}
				continue
			}
			if !ok {
				t.Errorf("%s %s: file %q, replay gave no sample", at, p, text)
				continue
			}
			want, err := strconv.ParseFloat(text, 64)
			if col == "wd" {
				want, err = compass[text], nil
			}
			if err != nil || v != want {
				t.Errorf("%s %s: replay %v, file %q", at, p, v, text)
			}
			checked++
		}
		temp, _ := strconv.ParseFloat(row["TEMP"], 64)
		dew, _ := strconv.ParseFloat(row["DEWP"], 64)
		if h, ok := hum.At(at); !ok || math.Abs(h-RelativeHumidity(temp, dew)) > 0.051 {
			t.Errorf("%s humidity %v (ok %v), want %.1f from TEMP %v DEWP %v", at, h, ok, RelativeHumidity(temp, dew), temp, dew)
		}
	}
	t.Logf("checked %d values, %d NA gaps gave no sample", checked, na)
	if na == 0 {
		t.Error("the slice should contain NA gaps")
	}
}

func TestReplayDefaultStartAndWrap(t *testing.T) {
	rp, err := LoadReplay(dongsiSlice)
	if err != nil {
		t.Fatal(err)
	}
	// No date of the file has today's month and day: the file's start.
	simStart := time.Date(2026, 11, 25, 0, 0, 0, 0, VietnamTime)
	rp.SetStart(simStart, time.Time{}, VietnamTime)
	if got := rp.FileClock(simStart, VietnamTime); !got.Equal(rp.First) {
		t.Errorf("default start plays %s, want the first row %s", got, rp.First)
	}
	// After the last row the record starts again.
	a, _ := rp.Value("PRES", simStart, VietnamTime)
	b, _ := rp.Value("PRES", simStart.Add(72*time.Hour), VietnamTime)
	if a != b {
		t.Errorf("wrap: %v then %v", a, b)
	}
	// Same month and day in the file: that day.
	simStart = time.Date(2026, 12, 28, 5, 0, 0, 0, VietnamTime)
	rp.SetStart(simStart, time.Time{}, VietnamTime)
	if got := rp.FileClock(simStart, VietnamTime); !got.Equal(time.Date(2016, 12, 28, 5, 0, 0, 0, time.UTC)) {
		t.Errorf("same-day start plays %s, want 2016-12-28 05:00", got)
	}
}

func TestReplayBadInput(t *testing.T) {
	head := strings.Join(beijingColumns, ",") + "\n"
	good := `1,2016,12,27,0,10,20,3,17,300,89,-0.5,1024.5,-21.4,0,"NNW",5.7,"Dongsi"` + "\n"
	f := func(name, data string, wantErr bool, wantSkipped int) {
		t.Helper()
		rp, err := ParseReplay(strings.NewReader(data))
		if wantErr {
			if err == nil {
				t.Errorf("%s: no error", name)
			}
			return
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if rp.Skipped != wantSkipped {
			t.Errorf("%s: skipped %d, want %d (%v)", name, rp.Skipped, wantSkipped, rp.SkipErr)
		}
	}
	f("empty", "", true, 0)
	f("header only", head, true, 0)
	f("missing column", "No,year,month,day,hour,PM2.5\n1,2016,1,1,0,3\n", true, 0)
	f("good", head+good, false, 0)
	f("bad number kept apart", head+good+`2,2016,12,27,1,abc,20,3,17,300,89,-0.5,1024.5,-21.4,0,"N",5.7,"Dongsi"`+"\n", false, 1)
	f("bad date", head+good+`2,2016,13,27,1,1,20,3,17,300,89,-0.5,1024.5,-21.4,0,"N",5.7,"Dongsi"`+"\n", false, 1)
	f("bad compass", head+good+`2,2016,12,27,1,1,20,3,17,300,89,-0.5,1024.5,-21.4,0,"XX",5.7,"Dongsi"`+"\n", false, 1)
	f("short row", head+good+"2,2016,12\n", false, 1)
	_, err := ParseReplay(strings.NewReader(head + "2,2016,13,27,1\n"))
	if !errors.Is(err, ErrNoRows) {
		t.Errorf("only bad rows: %v, want ErrNoRows", err)
	}
	// A gap in the hours is no sample.
	rp, err := ParseReplay(strings.NewReader(head + good + `2,2016,12,27,3,11,20,3,17,300,89,-0.5,1024.5,-21.4,0,"N",5.7,"Dongsi"` + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(rp.cols["PM2.5"][1]) {
		t.Errorf("missing hour: %v, want NaN", rp.cols["PM2.5"])
	}
}

func TestReplayFiles(t *testing.T) {
	files, err := ReplayFiles("testdata/beijing")
	if err != nil {
		t.Fatal(err)
	}
	if files["Dongsi"] == "" {
		t.Errorf("files %v: want Dongsi", files)
	}
	if _, err := ReplayFiles(t.TempDir()); err == nil {
		t.Error("empty dir: no error")
	}
}

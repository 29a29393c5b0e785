package datafile

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quantrac/quantrac/model"
)

// render prints samples as metric{labels}@time=value/quality, one per line.
func render(ss []model.Sample) string {
	var b strings.Builder
	for _, s := range ss {
		b.WriteString(s.Labels.String())
		b.WriteString("@")
		b.WriteString(time.UnixMilli(s.T).UTC().Format(time.RFC3339))
		b.WriteString("=")
		b.WriteString(strconv.FormatFloat(s.V, 'g', 6, 64))
		b.WriteString("/")
		b.WriteString(s.Q.String())
		b.WriteString("\n")
	}
	return b.String()
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseFixtures(t *testing.T) {
	for _, tc := range []struct {
		file, asName string
		opts         ParseOptions
		want         string
		wantErrs     []string // one substring per bad line, in order
	}{
		{
			file: "HN_KCN-ThangLong_HN-AIR1_20261125080000.txt", // BOM, CRLF, µ, decimal comma, mg→µg
			opts: ParseOptions{Kind: model.KindAir},
			want: `pm25_ugm3{kind="air",province="HN",station="HN-AIR1"}@2026-11-25T01:00:00Z=35.2/00
pm10_ugm3{kind="air",province="HN",station="HN-AIR1"}@2026-11-25T01:00:00Z=60.1/00
co_ugm3{kind="air",province="HN",station="HN-AIR1"}@2026-11-25T01:00:00Z=1250/00
no2_ugm3{kind="air",province="HN",station="HN-AIR1"}@2026-11-25T01:00:00Z=40/01
temperature_c{kind="air",province="HN",station="HN-AIR1"}@2026-11-25T01:00:00Z=28.5/00
humidity_percent{kind="air",province="HN",station="HN-AIR1"}@2026-11-25T01:00:00Z=81/02
`,
		},
		{
			file: "HP_NhaMay_Nuoc_HP-W1_20261125083000.txt", // header line, blank line, cm→m, Temp→water temperature
			opts: ParseOptions{Kind: model.KindHydrological},
			want: `ph{kind="hydrological",province="HP",station="HP-W1"}@2026-11-25T01:30:00Z=7.12/00
do_mgl{kind="hydrological",province="HP",station="HP-W1"}@2026-11-25T01:30:00Z=5.4/00
tss_mgl{kind="hydrological",province="HP",station="HP-W1"}@2026-11-25T01:30:00Z=18/00
cod_mgl{kind="hydrological",province="HP",station="HP-W1"}@2026-11-25T01:30:00Z=12.5/00
nh4_mgl{kind="hydrological",province="HP",station="HP-W1"}@2026-11-25T01:30:00Z=0.35/00
water_temperature_c{kind="hydrological",province="HP",station="HP-W1"}@2026-11-25T01:30:00Z=24.3/00
water_level_m{kind="hydrological",province="HP",station="HP-W1"}@2026-11-25T01:30:00Z=2.35/00
`,
		},
		{
			file: "HN_KCN-ThangLong_HN-AIR1_20261125090000.txt", // broken lines
			opts: ParseOptions{Kind: model.KindAir},
			want: `pm25_ugm3{kind="air",province="HN",station="HN-AIR1"}@2026-11-25T02:00:00Z=30/00
o3_ugm3{kind="air",province="HN",station="HN-AIR1"}@2026-11-25T02:00:00Z=80/00
`,
			wantErrs: []string{"line 2 ", "2 fields, want 5", "line 3 ", `value "abc"`, "line 4 ", `time "2026-11-25 09:00"`,
				"line 5 ", `unknown datalogger status "05"`, "line 6 ", `unknown parameter "XYZ"`},
		},
		{
			file: "HP_NhaMay_Nuoc_HP-W1_20261125090000.txt", // wrong units
			opts: ParseOptions{Kind: model.KindHydrological},
			want: `do_mgl{kind="hydrological",province="HP",station="HP-W1"}@2026-11-25T02:00:00Z=5.1/00
rainfall_mm{kind="hydrological",province="HP",station="HP-W1"}@2026-11-25T02:00:00Z=3/00
`,
			wantErrs: []string{"line 1 ", `unit "mg/m3" for TSS (tss_mgl): want one of g/m3, mg/l, ug/l`, "line 3 ", `unit "km" for WaterLevel`},
		},
		{
			file: "cp1258_content.txt", asName: "HN_Nha_TrạmA_20261125080000.txt", // Windows-1258 text
			opts: ParseOptions{Kind: model.KindAir},
			want: `temperature_c{kind="air",province="HN",station="TrạmA"}@2026-11-25T01:00:00Z=27.5/00
pm25_ugm3{kind="air",province="HN",station="TrạmA"}@2026-11-25T01:00:00Z=20/00
`,
		},
		{
			file: "DN_Cang_DN-01_20261125080000.txt", // other separator and column order
			opts: ParseOptions{Kind: model.KindAir, Format: Format{Separator: ";", Columns: []string{"time", "parameter", "value", "unit", "status"}}},
			want: `pm10_ugm3{kind="air",province="DN",station="DN-01"}@2026-11-25T01:00:00Z=45.2/00
pm25_ugm3{kind="air",province="DN",station="DN-01"}@2026-11-25T01:00:00Z=20.1/01
`,
		},
	} {
		t.Run(tc.file, func(t *testing.T) {
			name := tc.asName
			if name == "" {
				name = tc.file
			}
			p, err := Parse(readFixture(t, tc.file), name, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := render(p.Samples); got != tc.want {
				t.Errorf("samples:\n%s\nwant:\n%s", got, tc.want)
			}
			var errs []string
			for _, e := range p.Errors {
				errs = append(errs, e.Error())
			}
			all := strings.Join(errs, "\n")
			if len(errs)*2 != len(tc.wantErrs) {
				t.Errorf("%d line errors:\n%s\nwant %d", len(errs), all, len(tc.wantErrs)/2)
			}
			for _, w := range tc.wantErrs {
				if !strings.Contains(all, w) {
					t.Errorf("line errors:\n%s\nwant one containing %q", all, w)
				}
			}
		})
	}
}

func TestParseName(t *testing.T) {
	f := func(name, want, wantErr string) {
		t.Helper()
		fn, err := ParseName(name, LocalZone)
		if wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), wantErr) {
				t.Errorf("%q: error %v, want %q", name, err, wantErr)
			}
			return
		}
		if err != nil {
			t.Errorf("%q: %v", name, err)
			return
		}
		got := fn.Province + "|" + fn.Facility + "|" + fn.Station + "|" + time.UnixMilli(fn.T).UTC().Format(time.RFC3339)
		if got != want {
			t.Errorf("%q: got %s, want %s", name, got, want)
		}
	}
	f("HN_KCN_HN-01_20261125080000.txt", "HN|KCN|HN-01|2026-11-25T01:00:00Z", "")
	f("dir/HN_Nha_May_Nuoc_HN-01_20261125080000.TXT", "HN|Nha_May_Nuoc|HN-01|2026-11-25T01:00:00Z", "")
	f("HN_Nha_Tr\x61\xf2mA_20261125080000.txt", "HN|Nha|TrạmA|2026-11-25T01:00:00Z", "") // Windows-1258 name
	f("HN_Nha_Tra\u0323mA_20261125080000.txt", "HN|Nha|TrạmA|2026-11-25T01:00:00Z", "")  // decomposed UTF-8
	f("HN_HN-01_20261125080000.txt", "", "want <province>_<facility>_<station>_<yyyyMMddhhmmss>")
	f("HN_KCN_HN-01_2026112508.txt", "", "14 digits")
	f("HN_KCN_HN-01_20261345080000.txt", "", "not a valid date")
	f("_KCN_HN-01_20261125080000.txt", "", "empty province")
}

func TestDecodeText(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
		enc  Encoding
	}{
		{"\xef\xbb\xbfpH\t7", "pH\t7", EncodingUTF8},
		{"Nhi\xea\xf2t \xf0\xf4\xf2", "Nhiệt độ", EncodingCP1258},
		{"Nhie\u0302\u0323t", "Nhiệt", EncodingUTF8},
		{"\xff\xfeN\x00h\x00i\x00\xc7\x1et\x00", "Nhiệt", EncodingUTF16},
	} {
		got, enc := decodeText([]byte(tc.in))
		if got != tc.want || enc != tc.enc {
			t.Errorf("decodeText(%q) = %q, %s; want %q, %s", tc.in, got, enc, tc.want, tc.enc)
		}
	}
}

func TestParseOptionsErrors(t *testing.T) {
	for _, o := range []ParseOptions{
		{Kind: "air", Format: Format{Columns: []string{"parameter", "unit"}}},
		{Kind: "air", Format: Format{Columns: []string{"parameter", "value", "value"}}},
		{Kind: "air", Format: Format{Columns: []string{"parameter", "value", "colour"}}},
		{Kind: "air", Parameters: map[string]Parameter{"X": {Metric: "bad-name"}}},
		{},
	} {
		if _, err := Parse([]byte("pH\t7"), "HN_F_S_20261125080000.txt", o); err == nil {
			t.Errorf("options %+v: want an error", o)
		}
	}
	// Extra parameters, whitespace separator, no unit/time/status columns.
	p, err := Parse([]byte("Turbidity   4.5\n"), "HN_F_S_20261125080000.txt", ParseOptions{Kind: "hydrological",
		Format:     Format{Separator: "space", Columns: []string{"parameter", "value"}},
		Parameters: map[string]Parameter{"Turbidity": {Metric: "turbidity_ntu"}}})
	if err != nil || len(p.Errors) > 0 || render(p.Samples) != `turbidity_ntu{kind="hydrological",province="HN",station="S"}@2026-11-25T01:00:00Z=4.5/00`+"\n" {
		t.Errorf("got %s %v %v", render(p.Samples), p.Errors, err)
	}
}

func TestAppendFileRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 25, 1, 0, 0, 0, time.UTC)
	name := FileNameFor("HN", "KCN", "HN-01", at)
	if name != "HN_KCN_HN-01_20261125080000.txt" {
		t.Fatalf("name %s", name)
	}
	data := AppendFile([]byte(nil), []Reading{
		{Parameter: "PM2.5", Value: 12.5, Unit: "µg/m3", Time: at},
		{Parameter: "temperature_c", Value: -1.25, Unit: "°C", Time: at, Status: "01"},
	})
	p, err := Parse(data, name, ParseOptions{Kind: "air"})
	if err != nil || len(p.Errors) > 0 {
		t.Fatal(err, p.Errors)
	}
	want := `pm25_ugm3{kind="air",province="HN",station="HN-01"}@2026-11-25T01:00:00Z=12.5/00
temperature_c{kind="air",province="HN",station="HN-01"}@2026-11-25T01:00:00Z=-1.25/01
`
	if got := render(p.Samples); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{
		"HN_KCN-ThangLong_HN-AIR1_20261125080000.txt", "HP_NhaMay_Nuoc_HP-W1_20261125083000.txt",
		"HN_KCN-ThangLong_HN-AIR1_20261125090000.txt", "cp1258_content.txt",
	} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("\xff\xfe\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, o := range []ParseOptions{
			{Kind: "air"},
			{Kind: "hydrological", Format: Format{Separator: "space"}},
		} {
			p, err := Parse(data, "HN_F_S_20261125080000.txt", o)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range p.Samples {
				if err := s.Validate(); err != nil {
					t.Fatalf("invalid sample from %q: %v", data, err)
				}
			}
			if len(p.Samples)+len(p.Errors) != p.Lines {
				t.Fatalf("%d samples + %d errors != %d lines", len(p.Samples), len(p.Errors), p.Lines)
			}
		}
	})
}

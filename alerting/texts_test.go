package alerting

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/quantrac/quantrac/model"
)

// Every metric of the rule packs, the demo rules and the simulator has a
// Vietnamese name: an SMS never shows a series name.
func TestParamNames(t *testing.T) {
	for _, tc := range []struct{ metric, want string }{
		{"water_level_m", "Mực nước"},
		{"rainfall_mm", "Lượng mưa"},
		{"water_temperature_c", "Nhiệt độ nước"},
		{"ph", "pH"},
		{"do_mgl", "DO"},
		{"tss_mgl", "TSS"},
		{"cod_mgl", "COD"},
		{"nh4_mgl", "NH4+"},
		{"bod5_mgl", "BOD5"},
		{"toc_mgl", "TOC"},
		{"tn_mgl", "Tổng nitơ"},
		{"tp_mgl", "Tổng phốt pho"},
		{"coliform_mpn100ml", "Coliform"},
		{"turbidity_ntu", "Độ đục"},
		{"pm25_ugm3", "PM2.5"},
		{"pm10_ugm3", "PM10"},
		{"tsp_ugm3", "Bụi TSP"},
		{"co_ugm3", "CO"},
		{"no2_ugm3", "NO2"},
		{"so2_ugm3", "SO2"},
		{"o3_ugm3", "O3"},
		{"aqi_vn", "VN_AQI"},
		{"aqi_vn_daily", "VN_AQI ngày"},
		{"temperature_c", "Nhiệt độ"},
		{"humidity_percent", "Độ ẩm"},
		{"pressure_hpa", "Áp suất"},
		{"wind_speed_ms", "Tốc độ gió"},
		{"wind_direction_deg", "Hướng gió"},
		{"dew_point_c", "Điểm sương"},
		{"door_open", "door open"}, // unknown: no raw series name either
	} {
		if got := paramName(tc.metric); got != tc.want || !norm.NFC.IsNormalString(got) {
			t.Errorf("paramName(%s) = %q, want %q (NFC)", tc.metric, got, tc.want)
		}
	}
}

func TestFormatNum(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want string
	}{
		{137.28, "137,3"}, {107.34, "107,3"}, {100, "100"}, {99.994, "99,99"}, {99.996, "100"},
		{10.62, "10,62"}, {9.6, "9,6"}, {0.35, "0,35"}, {62, "62"}, {-0.001, "0"}, {-12.345, "-12,35"},
		{-150.26, "-150,3"}, {194.44, "194,4"}, {math.NaN(), "?"},
	} {
		if got := formatNum(tc.v); got != tc.want {
			t.Errorf("formatNum(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

func TestDisplayLimit(t *testing.T) {
	for _, tc := range []struct{ v, want float64 }{
		{10.000000000000002, 10}, {100.00000000000001, 100}, {5.999999999999999, 6}, {3.9999999999999996, 4},
		{45.00000000000001, 45}, {0.35000000000000003, 0.35}, {9.5, 9.5}, {5.999, 5.999}, {0, 0}, {-2.0000000000000004, -2},
		{1234.5678, 1234.5678},
	} {
		if got := displayLimit(tc.v); got != tc.want {
			t.Errorf("displayLimit(%v) = %v, want %v", tc.v, got, tc.want)
		}
	}
}

// The default texts, exactly, for one template data each.
func TestDefaultTexts(t *testing.T) {
	at := time.Date(2026, 11, 25, 9, 30, 0, 0, time.FixedZone("ICT", 7*3600))
	base := func() *TemplateData {
		return &TemplateData{ID: 7, Rule: "r", Severity: SeverityWarning, Station: "HN-CauMoi", StationName: "Cầu Mới",
			Time: at.Format(timeLayout), T: at, Since: "09:10 25/11/2026"}
	}
	for _, tc := range []struct {
		name, kind string
		tmpl       string // rule template, "" for the default
		edit       func(d *TemplateData)
		want       string
	}{
		{"stuck sensor, demo rule", KindQuality, "{{.StationName}}: cảm biến {{.Param}} nghi bị kẹt (giá trị không đổi) lúc {{.Time}}. OK {{.ID}}",
			func(d *TemplateData) { d.Metric, d.Param = "dew_point_c", paramName("dew_point_c") },
			"Cầu Mới: cảm biến Điểm sương nghi bị kẹt (giá trị không đổi) lúc 09:30 25/11/2026. OK 7"},
		{"quality default", KindQuality, "",
			func(d *TemplateData) { d.Metric, d.Param = "bod5_mgl", paramName("bod5_mgl") },
			"Cầu Mới: thiết bị đo BOD5 báo lỗi lúc 09:30 25/11/2026. OK 7"},
		{"nodata resolved", resolvedNoData, "",
			func(d *TemplateData) { d.Rule, d.Event = "demo_station_offline", EventResolved },
			"Đã hết cảnh báo #7 Cầu Mới: đã có số liệu trở lại lúc 09:30 25/11/2026 (mất từ 09:10 25/11/2026)"},
		{"resolved without parameter", "resolved", "",
			func(d *TemplateData) { d.Rule, d.Event = "custom_promql", EventResolved },
			"Đã hết cảnh báo #7 Cầu Mới: custom_promql trở lại bình thường lúc 09:30 25/11/2026"},
		{"resolved threshold", "resolved", "",
			func(d *TemplateData) {
				d.Rule, d.Event, d.Metric, d.Param = "pm25", EventResolved, "pm25_ugm3", "PM2.5"
			},
			"Đã hết cảnh báo #7 Cầu Mới: PM2.5 (pm25) trở lại bình thường lúc 09:30 25/11/2026"},
		{"level up", KindLevels, "",
			func(d *TemplateData) {
				d.Event, d.Level, d.Metric, d.Param, d.Value, d.Limit, d.Unit = EventLevelUp, "Báo động II", "water_level_m", "Mực nước", 10.62, 10.5, "m"
			},
			"Cầu Mới: Báo động II! Mực nước 10,62 m (mốc 10,5) lúc 09:30 25/11/2026. Trả lời OK 7 để nhận xử lý"},
		{"level down, water", KindLevels, "",
			func(d *TemplateData) {
				d.Event, d.Level, d.PrevLevel, d.Metric, d.Param, d.Value, d.Limit, d.PrevLimit, d.Unit = EventLevelDown, "Báo động II", "Báo động III", "water_level_m", "Mực nước", 11.2, 10.5, 11.5, "m"
			},
			"Cầu Mới: Mực nước rút xuống Báo động II (11,2 m, dưới mốc 11,5) lúc 09:30 25/11/2026. OK 7"},
		{"level down, other", KindLevels, "",
			func(d *TemplateData) {
				d.Event, d.Level, d.Metric, d.Param, d.Value, d.PrevLimit, d.Unit = EventLevelDown, "Mức C", "bod5_mgl", "BOD5", 7.04, 10, "mg/L"
			},
			"Cầu Mới: BOD5 giảm xuống Mức C (7,04 mg/L, dưới mốc 10) lúc 09:30 25/11/2026. OK 7"},
		{"level down, below levels", KindLevels, "",
			func(d *TemplateData) {
				d.Event, d.Level, d.Metric, d.Param, d.Value, d.PrevLimit, d.Unit, d.Below = EventLevelDown, "Mức C", "do_mgl", "DO", 3.1, 2, "mg/L", true
			},
			"Cầu Mới: DO tăng lên Mức C (3,1 mg/L, trên mốc 2) lúc 09:30 25/11/2026. OK 7"},
		{"threshold, 1 decimal from 100", KindThreshold, "",
			func(d *TemplateData) {
				d.Metric, d.Param, d.Value, d.Limit, d.Unit = "pm10_ugm3", "PM10", 137.28, 100, "µg/m³"
			},
			"Cầu Mới: PM10 137,3 µg/m³ vượt ngưỡng 100 lúc 09:30 25/11/2026. Trả lời OK 7 để nhận xử lý"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := base()
			tc.edit(d)
			var tm = defaultTemplates[tc.kind]
			if tc.tmpl != "" {
				var err error
				if tm, err = defaultTemplates[KindQuality].New("x").Parse(tc.tmpl); err != nil {
					t.Fatal(err)
				}
			}
			got := render(tm, tc.kind, d)
			if got != tc.want {
				t.Fatalf("text\n got %q\nwant %q", got, tc.want)
			}
			if !norm.NFC.IsNormalString(got) || utf8.RuneCountInString(got) > 160 {
				t.Fatalf("text not NFC or longer than 160: %q", got)
			}
		})
	}
}

// The flood levels up and down, the exact SMS: going down says so.
func TestFloodLevelTexts(t *testing.T) {
	clock := &fakeClock{t: t0}
	h := newHarness(t, t.TempDir(), "testdata/rules", clock)
	defer h.stop()
	for _, v := range []float64{9.6, 10.6, 11.6, 11.2, 10.3, 9.3} {
		h.observe("water_level_m", "HN-LongBien", "hydrological", v, 0)
		h.settle()
		clock.Add(10 * time.Minute)
	}
	want := []string{
		"Trạm thủy văn Long Biên: Báo động I! Mực nước 9,6 m (mốc 9,5) lúc 02:00 25/11/2026. Trả lời OK 1 để nhận xử lý",
		"Trạm thủy văn Long Biên: Báo động II! Mực nước 10,6 m (mốc 10,5) lúc 02:10 25/11/2026. Trả lời OK 1 để nhận xử lý",
		"Trạm thủy văn Long Biên: Báo động III! Mực nước 11,6 m (mốc 11,5) lúc 02:20 25/11/2026. Trả lời OK 1 để nhận xử lý",
		"Trạm thủy văn Long Biên: Mực nước rút xuống Báo động II (11,2 m, dưới mốc 11,5) lúc 02:30 25/11/2026. OK 1",
		"Trạm thủy văn Long Biên: Mực nước rút xuống Báo động I (10,3 m, dưới mốc 10,5) lúc 02:40 25/11/2026. OK 1",
		"Đã hết cảnh báo #1 Trạm thủy văn Long Biên: Mực nước (longbien-flood) trở lại bình thường lúc 02:50 25/11/2026",
	}
	got := h.sms.all()
	if len(got) != len(want) {
		t.Fatalf("%d SMS, want %d: %v", len(got), len(want), eventKinds(got))
	}
	for i, m := range got {
		if m.Text != want[i] {
			t.Errorf("SMS %d\n got %q\nwant %q", i, m.Text, want[i])
		}
	}
}

// A rule pack limit one float above the regulation's shows as the
// regulation's, in the SMS and in the alert's limit field; the nodata
// alert's resolution says the station reports again.
func TestLimitAndNoDataTexts(t *testing.T) {
	rules := t.TempDir()
	writeFile(t, rules+"/r.yaml", []byte(`rules:
  - name: bod5
    kind: levels
    select: bod5_mgl
    unit: mg/L
    levels:
      - {name: "Mức B", above: 4.000000000000001, clear: 3.8, severity: info}
      - {name: "Mức D", above: 10.000000000000002, clear: 9.5, severity: critical}
  - name: pm10
    kind: threshold
    select: pm10_ugm3
    above: 100.00000000000001
    clear: 90
    unit: µg/m³
  - name: offline
    kind: nodata
    select: '{__name__="pm10_ugm3"}'
    nodata: 5m
    group_by: [station]
`))
	clock := &fakeClock{t: t0}
	h := newHarness(t, t.TempDir(), rules, clock)
	defer h.stop()
	h.eng.SetStations([]model.Station{{ID: "HN-CauMoi", Name: "Cầu Mới"}})
	h.observe("bod5_mgl", "HN-CauMoi", "water", 10.5, 0)
	h.observe("pm10_ugm3", "HN-CauMoi", "air", 137.28, 0)
	h.settle()
	clock.Add(6 * time.Minute) // escalation starts after 15 min
	h.eng.Tick(context.Background())
	h.settle()
	h.observe("pm10_ugm3", "HN-CauMoi", "air", 20, 0)
	h.settle()
	var texts []string
	for _, m := range h.hook.all() { // one webhook call per batch, every event once
		for _, ev := range m.Events {
			texts = append(texts, ev.Text)
		}
	}
	want := []string{
		"Cầu Mới: Mức D! BOD5 10,5 mg/L (mốc 10) lúc 02:00 25/11/2026. Trả lời OK 1 để nhận xử lý",
		"Cầu Mới: PM10 137,3 µg/m³ vượt ngưỡng 100 lúc 02:00 25/11/2026. Trả lời OK 2 để nhận xử lý",
		"Cầu Mới: mất dữ liệu từ 02:00 25/11/2026. Kiểm tra trạm. OK 3",
		"Đã hết cảnh báo #2 Cầu Mới: PM10 (pm10) trở lại bình thường lúc 02:06 25/11/2026",
		"Đã hết cảnh báo #3 Cầu Mới: đã có số liệu trở lại lúc 02:06 25/11/2026 (mất từ 02:00 25/11/2026)",
	}
	if strings.Join(texts, "\n") != strings.Join(want, "\n") {
		t.Fatalf("texts\n got %q\nwant %q", texts, want)
	}
	alerts, err := h.eng.Alerts(AlertFilter{})
	if err != nil {
		t.Fatal(err)
	}
	limits := map[string]float64{}
	for _, a := range alerts {
		limits[a.Rule] = a.Limit
	}
	if limits["bod5"] != 10 || limits["pm10"] != 100 {
		t.Fatalf("alert limits %v, want bod5 10, pm10 100", limits)
	}
}

// A station registered after its alert was rendered is named in the SMS
// anyway, like the others of the same SMS.
func TestGroupNamesStations(t *testing.T) {
	e := &Engine{stations: map[string]string{"HN-CauMoi": "Cầu Mới"}, byID: map[uint64]*Alert{}}
	e.byID[4] = &Alert{ID: 4, Message: "HN-CauMoi: PM10 137,3 µg/m³ vượt ngưỡng 100 lúc 02:00 25/11/2026. OK 4"}
	ev := &Event{AlertID: 4, Text: e.byID[4].Message, Unnamed: "HN-CauMoi"}
	if a := e.nameStation(ev); a == nil || a.Message != "Cầu Mới: PM10 137,3 µg/m³ vượt ngưỡng 100 lúc 02:00 25/11/2026. OK 4" {
		t.Fatalf("alert message not renamed: %+v", a)
	}
	if ev.Text != "Cầu Mới: PM10 137,3 µg/m³ vượt ngưỡng 100 lúc 02:00 25/11/2026. OK 4" || ev.Unnamed != "" {
		t.Fatalf("event text %q", ev.Text)
	}
	still := &Event{AlertID: 5, Text: "HN-X: mất dữ liệu từ 02:00 25/11/2026. Kiểm tra trạm. OK 5", Unnamed: "HN-X"}
	if e.nameStation(still); still.Text != "HN-X: mất dữ liệu từ 02:00 25/11/2026. Kiểm tra trạm. OK 5" {
		t.Fatalf("unknown station changed: %q", still.Text)
	}
}

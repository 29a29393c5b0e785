package alerting

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"text/template"
	"time"
)

// Event kinds: what happened to an alert.
const (
	EventFiring       = "firing"       // pending → firing
	EventLevelUp      = "level_up"     // levels: to a more severe level
	EventLevelDown    = "level_down"   // levels: to a milder level
	EventResolved     = "resolved"     // condition cleared, or resolved by hand
	EventEscalation   = "escalation"   // nobody acknowledged in time
	EventAcknowledged = "acknowledged" // someone took it
)

// TemplateData is what a message template sees. Times are in the roster's
// time zone (Asia/Ho_Chi_Minh).
type TemplateData struct {
	ID          uint64            // alert id, the number officers reply with ("OK 123")
	Rule        string            // rule name
	Event       string            // firing, level_up, level_down, resolved, escalation
	Severity    string            // info, warning, critical
	Level       string            // levels kind: current level name ("Báo động II")
	PrevLevel   string            // levels kind: level before this event
	Value       float64           // the value that triggered (average for window, change per hour for rate)
	Limit       float64           // the limit crossed (level limit for levels), as the regulation writes it
	PrevLimit   float64           // levels, level_down: the limit of the level just above the new one (the mark the value went back under)
	Unit        string            // rule unit
	Station     string            // station id label
	StationName string            // station name from the api's station list (id when unknown)
	Province    string            // province label
	Metric      string            // series name
	Param       string            // Vietnamese name of the parameter ("Mực nước")
	Window      string            // window kind: the window ("8h")
	Below       bool              // the limit is a lower bound (value fell below it)
	Labels      map[string]string // all alert labels
	Time        string            // local time of the event, "15:04 02/01/2006"
	T           time.Time         // the same as a time.Time in local time
	Since       string            // local time the condition started
}

var templateFuncs = template.FuncMap{
	"num":   formatNum,
	"upper": strings.ToUpper,
	"lower": strings.ToLower,
	"fixed": func(prec int, v float64) string {
		return strings.Replace(strconv.FormatFloat(v, 'f', prec, 64), ".", ",", 1)
	},
}

// formatNum renders v the Vietnamese way: decimal comma, trailing zeros
// dropped, one decimal from 100 up and two below ("137,3", "10,5", "62",
// "0,35"). It is the one rounding rule of every SMS number.
func formatNum(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "?"
	}
	scale := 100.0
	if math.Abs(v) >= 100 {
		scale = 10
	}
	r := math.Round(v*scale) / scale
	if r == 0 {
		r = 0 // no "-0"
	}
	s := strconv.FormatFloat(r, 'f', -1, 64)
	return strings.Replace(s, ".", ",", 1)
}

// displayLimit returns the limit as the regulation writes it: rule packs
// fire on the next float beyond an inclusive limit (10.000000000000002 for
// "> 10"), which no officer should read. The shortest decimal that parses
// back within 1e-9 relative of v is returned (10, 0.35, 5.999 stays).
func displayLimit(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) || v == 0 {
		return v
	}
	for prec := 1; prec < 17; prec++ {
		r, err := strconv.ParseFloat(strconv.FormatFloat(v, 'g', prec, 64), 64)
		if err == nil && math.Abs(r-v) <= 1e-9*math.Abs(v) {
			return r
		}
	}
	return v
}

func sampleTemplateData() *TemplateData {
	t := time.Date(2026, 11, 25, 2, 0, 0, 0, time.FixedZone("ICT", 7*3600))
	return &TemplateData{ID: 1, Rule: "r", Event: EventFiring, Severity: SeverityWarning, Level: "I",
		Value: 1, Limit: 1, Unit: "m", Station: "S", StationName: "S", Metric: "m", Param: "p",
		Labels: map[string]string{"station": "S"}, Time: t.Format(timeLayout), T: t, Since: t.Format(timeLayout)}
}

const timeLayout = "15:04 02/01/2006"

var paramNames = map[string]string{
	"water_level_m":       "Mực nước",
	"rainfall_mm":         "Lượng mưa",
	"water_temperature_c": "Nhiệt độ nước",
	"ph":                  "pH",
	"do_mgl":              "DO",
	"tss_mgl":             "TSS",
	"cod_mgl":             "COD",
	"nh4_mgl":             "NH4+",
	"pm25_ugm3":           "PM2.5",
	"pm10_ugm3":           "PM10",
	"co_ugm3":             "CO",
	"no2_ugm3":            "NO2",
	"so2_ugm3":            "SO2",
	"o3_ugm3":             "O3",
	"temperature_c":       "Nhiệt độ",
	"humidity_percent":    "Độ ẩm",
	"pressure_hpa":        "Áp suất",
	"wind_speed_ms":       "Tốc độ gió",
	"wind_direction_deg":  "Hướng gió",
	"dew_point_c":         "Điểm sương",
	"aqi_vn":              "VN_AQI",
	"aqi_vn_daily":        "VN_AQI ngày",
	"bod5_mgl":            "BOD5",
	"toc_mgl":             "TOC",
	"tn_mgl":              "Tổng nitơ",
	"tp_mgl":              "Tổng phốt pho",
	"coliform_mpn100ml":   "Coliform",
	"tsp_ugm3":            "Bụi TSP",
	"turbidity_ntu":       "Độ đục",
}

// paramName is the Vietnamese name of a series for SMS texts. A metric not
// in the table is shown without its unit suffix and underscores
// ("door_open" → "door open"), never as a raw series name.
func paramName(metric string) string {
	if n, ok := paramNames[metric]; ok {
		return n
	}
	return strings.ReplaceAll(metric, "_", " ")
}

// levelDown is the default text of a levels alert going down a level (the
// water receding): it says so, and under which mark the value went back,
// instead of repeating the rising alarm. For levels with "below" limits
// (DO) a milder level means the value rose back over the mark.
const levelDown = `{{define "down"}}{{.StationName}}: {{.Param}} {{if .Below}}tăng lên{{else if eq .Metric "water_level_m"}}rút xuống{{else}}giảm xuống{{end}} {{.Level}} ({{num .Value}}{{with .Unit}} {{.}}{{end}}, {{if .Below}}trên{{else}}dưới{{end}} mốc {{num .PrevLimit}}) lúc {{.Time}}. OK {{.ID}}{{end}}`

// resolvedNoData is the template key of the default resolved text of
// nodata alerts: they have no parameter, the station reports again.
const resolvedNoData = "resolved_nodata"

// Default templates per kind, short enough for one to three SMS parts.
var defaultTemplates = map[string]*template.Template{}

func init() {
	defs := map[string]string{
		KindThreshold:  `{{.StationName}}: {{.Param}} {{num .Value}}{{with .Unit}} {{.}}{{end}} {{if .Below}}dưới{{else}}vượt{{end}} ngưỡng {{num .Limit}} lúc {{.Time}}. Trả lời OK {{.ID}} để nhận xử lý`,
		KindLevels:     `{{if eq .Event "level_down"}}{{template "down" .}}{{else}}{{.StationName}}: {{.Level}}! {{.Param}} {{num .Value}}{{with .Unit}} {{.}}{{end}} (mốc {{num .Limit}}) lúc {{.Time}}. Trả lời OK {{.ID}} để nhận xử lý{{end}}` + levelDown,
		KindRate:       `{{.StationName}}: {{.Param}} thay đổi nhanh {{num .Value}}{{with .Unit}} {{.}}{{end}}/giờ (giới hạn {{num .Limit}}) lúc {{.Time}}. OK {{.ID}}`,
		KindNoData:     `{{.StationName}}: mất dữ liệu từ {{.Since}}. Kiểm tra trạm. OK {{.ID}}`,
		KindWindow:     `{{.StationName}}: {{.Param}} trung bình {{.Window}} {{num .Value}}{{with .Unit}} {{.}}{{end}} vượt giới hạn {{num .Limit}} lúc {{.Time}}. OK {{.ID}}`,
		KindPromQL:     `Cảnh báo {{.Rule}}{{with .StationName}} tại {{.}}{{end}}: giá trị {{num .Value}} lúc {{.Time}}. OK {{.ID}}`,
		KindQuality:    `{{.StationName}}: thiết bị đo {{.Param}} báo lỗi lúc {{.Time}}. OK {{.ID}}`,
		"resolved":     `Đã hết cảnh báo #{{.ID}} {{.StationName}}: {{if .Param}}{{.Param}}{{if not (eq .Rule "")}} ({{.Rule}}){{end}}{{else}}{{.Rule}}{{end}} trở lại bình thường lúc {{.Time}}`,
		resolvedNoData: `Đã hết cảnh báo #{{.ID}} {{.StationName}}: đã có số liệu trở lại lúc {{.Time}} (mất từ {{.Since}})`,
	}
	for k, v := range defs {
		defaultTemplates[k] = template.Must(template.New(k).Funcs(templateFuncs).Option("missingkey=zero").Parse(v))
	}
}

// render executes t (or the kind's default) on d; a failing template falls
// back to the default so an alert is never lost to a template mistake.
func render(t *template.Template, kind string, d *TemplateData) string {
	var b bytes.Buffer
	if t != nil {
		if err := t.Execute(&b, d); err == nil {
			return strings.TrimSpace(b.String())
		}
		b.Reset()
	}
	def := defaultTemplates[kind]
	if def == nil {
		def = defaultTemplates[KindPromQL]
	}
	if err := def.Execute(&b, d); err != nil {
		return d.Rule + " #" + strconv.FormatUint(d.ID, 10)
	}
	return strings.TrimSpace(b.String())
}

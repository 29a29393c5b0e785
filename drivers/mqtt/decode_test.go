package mqtt

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/quantrac/quantrac/model"
)

// recv is the receive time used by the decoder tests: 2026-11-25T01:00:00Z.
var recv = time.Date(2026, 11, 25, 1, 0, 0, 0, time.UTC).UnixMilli()

func testMeta(pairs ...string) *Meta {
	return &Meta{Labels: model.New("", pairs...), Received: recv}
}

// render prints samples compactly for comparisons: series@t=v/q.
func render(ss []model.Sample) string {
	var parts []string
	for _, s := range ss {
		parts = append(parts, s.Labels.String()+"@"+time.UnixMilli(s.T).UTC().Format(time.RFC3339Nano)+"="+
			string(AppendNumber(nil, s.V))+"/"+s.Q.String())
	}
	return strings.Join(parts, " ")
}

func TestDecodeNumber(t *testing.T) {
	f := func(payload, param, want, wantErr string) {
		t.Helper()
		m := testMeta("station", "HN-01")
		m.Parameter = param
		got, err := DecodeNumber(nil, []byte(payload), m)
		checkDecode(t, payload, got, err, want, wantErr)
	}
	f("12.5", "pm25_ugm3", `pm25_ugm3{station="HN-01"}@2026-11-25T01:00:00Z=12.5/00`, "")
	f(" -3e2\n", "temperature_c", `temperature_c{station="HN-01"}@2026-11-25T01:00:00Z=-300/00`, "")
	f("", "pm25_ugm3", "", "empty payload")
	f("abc", "pm25_ugm3", "", "not a finite number")
	f("NaN", "pm25_ugm3", "", "not a finite number")
	f("+Inf", "pm25_ugm3", "", "not a finite number")
	f("1e999", "pm25_ugm3", "", "not a finite number")
	f("12.5", "", "", "{parameter}")
	f("12.5", "pm2.5", "", "invalid metric name")
	f(strings.Repeat("1", 100), "pm25_ugm3", "", "not a number")
}

func checkDecode(t *testing.T, payload string, got []model.Sample, err error, want, wantErr string) {
	t.Helper()
	if wantErr == "" && err != nil {
		t.Errorf("payload %q: unexpected error %v", payload, err)
	}
	if wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)) {
		t.Errorf("payload %q: error %v, want it to contain %q", payload, err, wantErr)
	}
	if r := render(got); r != want {
		t.Errorf("payload %q:\n got %s\nwant %s", payload, r, want)
	}
	for _, s := range got {
		if err := s.Validate(); err != nil {
			t.Errorf("payload %q: invalid sample: %v", payload, err)
		}
	}
}

func TestDecodeJSON(t *testing.T) {
	f := func(payload, want, wantErr string) {
		t.Helper()
		got, err := DecodeJSON(nil, []byte(payload), testMeta("province", "HN", "station", "HN-01"))
		checkDecode(t, payload, got, err, want, wantErr)
	}
	const at8 = "2026-11-25T01:00:00Z"
	s := func(metric, at, v, q string) string {
		return metric + `{province="HN",station="HN-01"}@` + at + "=" + v + "/" + q
	}
	// Times: RFC 3339 with offset, without (local), unix s, unix ms, strings of them.
	f(`{"time":"2026-11-25T08:00:00+07:00","status":"00","pm25_ugm3":12.5,"temperature_c":28.1}`,
		s("pm25_ugm3", at8, "12.5", "00")+" "+s("temperature_c", at8, "28.1", "00"), "")
	f(`{"time":"2026-11-25T08:00:00","pm25_ugm3":1}`, s("pm25_ugm3", at8, "1", "00"), "")
	f(`{"time":1795568400,"pm25_ugm3":1}`, s("pm25_ugm3", at8, "1", "00"), "")
	f(`{"ts":1795568400123,"pm25_ugm3":1}`, s("pm25_ugm3", "2026-11-25T01:00:00.123Z", "1", "00"), "")
	f(`{"timestamp":"1795568400","pm25_ugm3":1}`, s("pm25_ugm3", at8, "1", "00"), "")
	f(`{"time":1795568400.5,"pm25_ugm3":1}`, s("pm25_ugm3", "2026-11-25T01:00:00.5Z", "1", "00"), "")
	// No time: receive time, good.
	f(`{"pm25_ugm3":1}`, s("pm25_ugm3", at8, "1", "00"), "")
	f(`{"time":null,"pm25_ugm3":1}`, s("pm25_ugm3", at8, "1", "00"), "")
	// Bad time: receive time, flagged, reported.
	f(`{"time":"yesterday","pm25_ugm3":1}`, s("pm25_ugm3", at8, "1", "00+bad_time"), "bad time")
	f(`{"time":-5e20,"pm25_ugm3":1}`, s("pm25_ugm3", at8, "1", "00+bad_time"), "bad time")
	f(`{"time":true,"pm25_ugm3":1}`, s("pm25_ugm3", at8, "1", "00+bad_time"), "bad time")
	f(`{"time":"2026-13-45T08:00:00Z","pm25_ugm3":1}`, s("pm25_ugm3", at8, "1", "00+bad_time"), "bad time")
	// Status.
	f(`{"status":"01","pm25_ugm3":1}`, s("pm25_ugm3", at8, "1", "01"), "")
	f(`{"pm25_ugm3":1,"status":2}`, s("pm25_ugm3", at8, "1", "02"), "")
	f(`{"pm25_ugm3":1,"status":"07"}`, s("pm25_ugm3", at8, "1", "02"), "unknown datalogger status")
	// Wrong types are reported; good fields kept.
	f(`{"pm25_ugm3":"abc","pm10_ugm3":20}`, s("pm10_ugm3", at8, "20", "00"), `field "pm25_ugm3": want a number`)
	f(`{"pm25_ugm3":"12.5"}`, s("pm25_ugm3", at8, "12.5", "00"), "")
	f(`{"pm25_ugm3":{"v":1},"pm10_ugm3":[1],"o3_ugm3":true,"co_ugm3":null,"no2_ugm3":3}`, s("no2_ugm3", at8, "3", "00"), "want a number")
	f(`{"pm2.5":1,"pm10_ugm3":2}`, s("pm10_ugm3", at8, "2", "00"), "invalid metric name")
	f(`{"pm25_ugm3":1e999}`, "", "not finite")
	// Not a JSON object, broken JSON, trailing data, duplicate names, bad UTF-8.
	f(`12.5`, "", "want a JSON object")
	f(`[1,2]`, "", "want a JSON object")
	f(`{"pm25_ugm3":1`, "", "invalid JSON")
	f(`{"pm25_ugm3":1} x`, "", "invalid JSON")
	f(`{"pm25_ugm3":1}{}`, "", "invalid JSON")
	f(`{"pm25_ugm3":1,"pm25_ugm3":2}`, "", "invalid JSON")
	f("{\"pm25_ugm3\":1,\"x\xff\":2}", "", "invalid JSON")
	f(`{}`, "", "no values")
	f(``, "", "empty payload")
}

func TestDecodeJSONStationAndRename(t *testing.T) {
	m := &Meta{Labels: model.New("", "province", "HN"), Received: recv,
		Rename: map[string]string{"PM2.5": "pm25_ugm3", "battery": ""}}
	got, err := DecodeJSON(nil, []byte(`{"station":"HN-02","PM2.5":7,"battery":3.3}`), m)
	want := `pm25_ugm3{province="HN",station="HN-02"}@2026-11-25T01:00:00Z=7/00`
	checkDecode(t, "rename", got, err, want, "")
	// A topic station wins over the payload's.
	got, err = DecodeJSON(nil, []byte(`{"station":"HN-02","pm25_ugm3":7}`), testMeta("station", "HN-01"))
	checkDecode(t, "station", got, err, `pm25_ugm3{station="HN-01"}@2026-11-25T01:00:00Z=7/00`, "")
}

func TestDecodeAppendsToDst(t *testing.T) {
	prefix := []model.Sample{{Labels: model.New("foobar"), T: 1, V: 2}}
	for _, tc := range []struct {
		name string
		dec  DecodeFunc
		in   string
	}{
		{"number", DecodeNumber, "1"},
		{"json", DecodeJSON, `{"ph":1}`},
		{"senml", DecodeSenML, `[{"n":"ph","v":1}]`},
		{"jsonpath", (&PathMapping{Values: map[string]string{"ph": "a"}}).Decode, `{"a":1}`},
	} {
		m := testMeta("station", "S")
		m.Parameter = "ph"
		got, err := tc.dec(append([]model.Sample(nil), prefix...), []byte(tc.in), m)
		if err != nil || len(got) != 2 || got[0].Labels.Metric() != "foobar" || got[1].V != 1 {
			t.Errorf("%s: got %v, %v", tc.name, got, err)
		}
		// On a bad payload the prefix is left alone.
		got, err = tc.dec(append([]model.Sample(nil), prefix...), []byte("\xff"), m)
		if err == nil || len(got) != 1 || got[0].Labels.Metric() != "foobar" {
			t.Errorf("%s bad payload: got %v, %v", tc.name, got, err)
		}
	}
}

func TestDecodeSenML(t *testing.T) {
	f := func(payload, want, wantErr string, pairs ...string) {
		t.Helper()
		got, err := DecodeSenML(nil, []byte(payload), testMeta(pairs...))
		checkDecode(t, payload, got, err, want, wantErr)
	}
	const at8 = "2026-11-25T01:00:00Z"
	// Base name gives the station when the topic does not.
	f(`[{"bn":"HN-01:","bt":1795568400,"n":"pm25_ugm3","u":"ug/m3","v":12.5},{"n":"pm10_ugm3","t":60,"v":30}]`,
		`pm25_ugm3{station="HN-01"}@`+at8+`=12.5/00 pm10_ugm3{station="HN-01"}@2026-11-25T01:01:00Z=30/00`, "")
	// Topic station wins.
	f(`[{"bn":"X:","n":"ph","v":7}]`, `ph{station="HN-01"}@`+at8+`=7/00`, "", "station", "HN-01")
	// Base value, boolean value, relative time, URN base name.
	f(`[{"bn":"urn:dev:ow:10e2:","bv":10,"n":"ph","v":-3,"t":-60},{"n":"do_mgl","vb":true}]`,
		`ph{station="urn:dev:ow:10e2"}@2026-11-25T00:59:00Z=7/00 do_mgl{station="urn:dev:ow:10e2"}@`+at8+`=1/00`, "")
	// bn changes mid-pack; bt applies onward.
	f(`[{"bn":"A/","bt":1795568400,"n":"ph","v":1},{"bn":"B/","n":"ph","v":2}]`,
		`ph{station="A"}@`+at8+`=1/00 ph{station="B"}@`+at8+`=2/00`, "")
	// Status record (quantrac convention).
	f(`[{"bn":"HN-01:","n":"ph","v":7},{"n":"status","vs":"01"}]`, `ph{station="HN-01"}@`+at8+`=7/01`, "")
	f(`[{"bn":"HN-01:","n":"ph","v":7},{"n":"status","vs":"x"}]`, `ph{station="HN-01"}@`+at8+`=7/02`, "unknown datalogger status")
	// Bad records are reported, good ones kept.
	f(`[{"n":"ph","vs":"seven"},{"n":"do_mgl","v":5}]`, `do_mgl{station="S"}@`+at8+`=5/00`, "string value", "station", "S")
	f(`[{"n":"ph","v":"7"},{"n":"do_mgl","v":5}]`, `do_mgl{station="S"}@`+at8+`=5/00`, "want a number", "station", "S")
	f(`[{"n":"ph","vd":"AQ=="},{"n":"do_mgl","v":5}]`, `do_mgl{station="S"}@`+at8+`=5/00`, "data values", "station", "S")
	f(`[{"v":5}]`, ``, "no name")
	f(`[{"n":"ph","v":1,"bt":1e300}]`, `ph{station="S"}@`+at8+`=1/00+bad_time`, "bad time", "station", "S")
	f(`[{"bn":"S:","bt":1795568400}]`, ``, "no values")
	// Whole-pack failures.
	f(`[{"n":"ph","v":1,"foo_":1}]`, ``, "must-understand")
	f(`{"n":"ph","v":1}`, ``, "want a JSON array")
	f(`[{"n":"ph","v":1}`, ``, "invalid JSON")
	f(`[{"n":"ph","v":1}] 1`, ``, "invalid JSON")
	f(`[1]`, ``, "invalid JSON")
	f(``, ``, "empty payload")
}

func TestDecodeJSONPath(t *testing.T) {
	pm := &PathMapping{
		Time:   "$.ts",
		Status: "$.state.code",
		Values: map[string]string{"pm25_ugm3": "$.data.pm25", "temperature_c": "sensors[1].value"},
		Labels: map[string]string{"station": "$.device"},
	}
	if err := pm.Compile(); err != nil {
		t.Fatal(err)
	}
	f := func(payload, want, wantErr string) {
		t.Helper()
		got, err := pm.Decode(nil, []byte(payload), testMeta("province", "HN"))
		checkDecode(t, payload, got, err, want, wantErr)
	}
	const at8 = "2026-11-25T01:00:00Z"
	f(`{"ts":1795568400000,"device":"HN-05","state":{"code":"01"},"data":{"pm25":9.5},"sensors":[{"value":0},{"value":27}]}`,
		`pm25_ugm3{province="HN",station="HN-05"}@`+at8+`=9.5/01 temperature_c{province="HN",station="HN-05"}@`+at8+`=27/01`, "")
	f(`{"device":"HN-05","data":{"pm25":"x"},"sensors":[{"value":0},{"value":27}]}`,
		`temperature_c{province="HN",station="HN-05"}@`+at8+`=27/00`, "want a number")
	f(`{"ts":"soon","device":"HN-05","data":{"pm25":1}}`, `pm25_ugm3{province="HN",station="HN-05"}@`+at8+`=1/00+bad_time`, "bad time")
	f(`{"device":"HN-05"}`, ``, "no mapped values")
	f(`[1`, ``, "invalid JSON")
	f(`{} {}`, ``, "invalid JSON")

	items := &PathMapping{Items: "$.readings", Time: "t", Values: map[string]string{"water_level_m": "$.wl"}, Labels: map[string]string{"station": "id"}}
	got, err := items.Decode(nil, []byte(`{"readings":[{"id":"A","t":1795568400,"wl":1.5},{"id":"B","wl":2}]}`), testMeta())
	checkDecode(t, "items", got, err,
		`water_level_m{station="A"}@`+at8+`=1.5/00 water_level_m{station="B"}@`+at8+`=2/00`, "")
	if _, err := items.Decode(nil, []byte(`{"readings":3}`), testMeta()); err == nil || !strings.Contains(err.Error(), "want an array") {
		t.Errorf("items not an array: %v", err)
	}

	for _, bad := range []PathMapping{
		{},
		{Values: map[string]string{"pm2.5": "a"}},
		{Values: map[string]string{"ph": "a..b"}},
		{Values: map[string]string{"ph": "a[x]"}},
		{Values: map[string]string{"ph": "a[1"}},
		{Values: map[string]string{"ph": "a"}, Labels: map[string]string{"bad-name": "b"}},
	} {
		if err := bad.Compile(); err == nil {
			t.Errorf("mapping %+v: want a compile error", bad)
		}
	}
}

func TestTimeFromNumber(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want int64
		ok   bool
	}{
		{1795568400, 1795568400000, true},
		{1795568400123, 1795568400123, true},
		{4102444800, 4102444800000, true},
		{99999999999, 0, false},
		{100000000000, 100000000000, true},
		{-1, 0, false},
		{math.NaN(), 0, false},
		{math.Inf(1), 0, false},
		{1e300, 0, false},
	} {
		got, ok := timeFromNumber(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("timeFromNumber(%v) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

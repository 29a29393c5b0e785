package mqtt

import (
	"testing"
	"time"
)

func TestEncodersRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 25, 8, 0, 0, 0, time.FixedZone("ICT", 7*3600))
	prefix := []byte("foobar")

	m := testMeta("station", "HN-01")
	m.Parameter = "pm25_ugm3"
	b := AppendNumber(append([]byte(nil), prefix...), 12.5)
	if string(b) != "foobar12.5" {
		t.Fatalf("AppendNumber: %q", b)
	}
	got, err := DecodeNumber(nil, b[len(prefix):], m)
	checkDecode(t, string(b), got, err, `pm25_ugm3{station="HN-01"}@2026-11-25T01:00:00Z=12.5/00`, "")

	for _, tf := range []TimeFormat{TimeRFC3339, TimeUnixS, TimeUnixMs} {
		msg := JSONMessage{Time: at.Add(-time.Hour), TimeFormat: tf, Status: "01",
			Values: []Value{{"pm25_ugm3", 12.5}, {"temperature_c", -0.25}}}
		b := AppendJSON(append([]byte(nil), prefix...), msg)
		if string(b[:len(prefix)]) != "foobar" {
			t.Fatalf("AppendJSON lost the prefix: %q", b)
		}
		got, err := DecodeJSON(nil, b[len(prefix):], testMeta("station", "HN-01"))
		checkDecode(t, string(b), got, err,
			`pm25_ugm3{station="HN-01"}@2026-11-25T00:00:00Z=12.5/01 temperature_c{station="HN-01"}@2026-11-25T00:00:00Z=-0.25/01`, "")
	}
	b = AppendJSON(nil, JSONMessage{TimeFormat: TimeNone, Values: []Value{{"ph", 7}}})
	if string(b) != `{"ph":7}` {
		t.Errorf("AppendJSON without time: %s", b)
	}

	pack := SenMLPack{BaseName: "HN-01:", BaseTime: at, Status: "02", Records: []SenMLRecord{
		{Name: "pm25_ugm3", Unit: "ug/m3", V: 12.5},
		{Name: "pm10_ugm3", Unit: "ug/m3", V: 30, Offset: 60},
	}}
	b = AppendSenML(append([]byte(nil), prefix...), pack)
	got, err = DecodeSenML(nil, b[len(prefix):], testMeta())
	checkDecode(t, string(b), got, err,
		`pm25_ugm3{station="HN-01"}@2026-11-25T01:00:00Z=12.5/02 pm10_ugm3{station="HN-01"}@2026-11-25T01:01:00Z=30/02`, "")
	b = AppendSenML(nil, SenMLPack{BaseName: "S:", BaseTime: at.Add(500 * time.Millisecond), Records: []SenMLRecord{{Name: "ph", V: 7}}})
	got, err = DecodeSenML(nil, b, testMeta())
	checkDecode(t, string(b), got, err, `ph{station="S"}@2026-11-25T01:00:00.5Z=7/00`, "")
}

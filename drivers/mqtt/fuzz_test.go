package mqtt

import (
	"testing"
	"unicode/utf8"

	"github.com/quantrac/quantrac/model"
)

// checkFuzzSamples is what every decoder promises for any input: no panic,
// and every sample it returns is storable.
func checkFuzzSamples(t *testing.T, in []byte, ss []model.Sample) {
	t.Helper()
	for _, s := range ss {
		if err := s.Validate(); err != nil {
			t.Fatalf("payload %q gave an invalid sample: %v", in, err)
		}
	}
}

func fuzzMeta() *Meta {
	return &Meta{Labels: model.New("", "province", "HN"), Parameter: "pm25_ugm3", Received: recv}
}

func FuzzDecodeNumber(f *testing.F) {
	for _, s := range []string{"12.5", " -3e2\n", "NaN", "0x1p3", "1e999", "", "\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		ss, _ := DecodeNumber(nil, in, fuzzMeta())
		checkFuzzSamples(t, in, ss)
	})
}

func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"time":"2026-11-25T08:00:00+07:00","status":"00","pm25_ugm3":12.5,"temperature_c":28.1}`,
		`{"ts":1764032400123,"station":"S","pm25_ugm3":"1"}`,
		`{"time":-5e20,"status":7,"a":{"b":[1,2]},"c":null}`,
		`{"x":1}{}`, `[`, "{\"\xff\":1}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		m := fuzzMeta()
		ss, err := DecodeJSON(nil, in, m)
		checkFuzzSamples(t, in, ss)
		if len(ss) > 0 && !utf8.Valid(in) {
			t.Fatalf("samples from invalid UTF-8 %q", in)
		}
		_ = err
	})
}

func FuzzDecodeSenML(f *testing.F) {
	for _, s := range []string{
		`[{"bn":"HN-01:","bt":1764032400,"n":"pm25_ugm3","u":"ug/m3","v":12.5},{"n":"pm10_ugm3","t":60,"v":30}]`,
		`[{"bn":"urn:dev:ow:10e2:","bv":10,"n":"ph","v":-3,"t":-60},{"n":"do_mgl","vb":true},{"n":"status","vs":"01"}]`,
		`[{"n":"ph","vd":"AQ=="},{"x_":1}]`, `[{"bt":1e300,"n":"a","v":1}]`, `{}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		ss, _ := DecodeSenML(nil, in, fuzzMeta())
		checkFuzzSamples(t, in, ss)
	})
}

func FuzzDecodeJSONPath(f *testing.F) {
	pm := &PathMapping{
		Items:  "$.items",
		Time:   "t",
		Status: "s",
		Values: map[string]string{"pm25_ugm3": "$.v[0]", "ph": "p.q"},
		Labels: map[string]string{"station": "id"},
	}
	if err := pm.Compile(); err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		`{"items":[{"t":1764032400,"s":"01","v":[1.5],"p":{"q":"7"},"id":"S"},{"v":[null]}]}`,
		`{"items":[{"t":"x","s":9,"v":"a","id":{}}]}`, `{"items":{}}`, `[`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		ss, _ := pm.Decode(nil, in, fuzzMeta())
		checkFuzzSamples(t, in, ss)
	})
}

func FuzzTemplateMatch(f *testing.F) {
	f.Add("stations/{province}/{station}/{parameter}", "stations/HN/HN-01/pm25_ugm3")
	f.Add("a/+/{x}/#", "a/b/c/d/e")
	f.Fuzz(func(t *testing.T, tmpl, topic string) {
		tp, err := ParseTemplate(tmpl)
		if err != nil {
			return
		}
		ls, _, ok := tp.Match(topic)
		if ok {
			for _, l := range ls {
				if l.Value == "" {
					t.Fatalf("%q ~ %q: empty label %s", tmpl, topic, l.Name)
				}
			}
		}
	})
}

package model

import (
	"math"
	"testing"
)

func TestParseSelector(t *testing.T) {
	f := func(in string, want string) {
		t.Helper()
		ms, err := ParseSelector(in)
		if err != nil {
			t.Fatalf("ParseSelector(%q): %v", in, err)
		}
		got := ""
		for i, m := range ms {
			if i > 0 {
				got += ","
			}
			got += m.String()
		}
		if got != want {
			t.Fatalf("ParseSelector(%q) = %s, want %s", in, got, want)
		}
	}
	f(`water_level_m`, `__name__="water_level_m"`)
	f(`water_level_m{station="HN-LongBien"}`, `__name__="water_level_m",station="HN-LongBien"`)
	f(` pm25_ugm3 { station =~ "HN-.*" , province != 'HCM' } `, `__name__="pm25_ugm3",station=~"HN-.*",province!="HCM"`)
	f(`{__name__="x",a!~"b|c"}`, `__name__="x",a!~"b|c"`)
	f(`{name="Long Biên \"cầu\""}`, `name="Long Biên \"cầu\""`)

	for _, bad := range []string{``, `{}`, `x{`, `x{a}`, `x{a="b"`, `x{a=b}`, `x{a=~"("}`, `x y`, `x{a="b"}z`, `x{1a="b"}`} {
		if _, err := ParseSelector(bad); err == nil {
			t.Errorf("ParseSelector(%q): want error", bad)
		}
	}
}

func TestMatcherSemantics(t *testing.T) {
	ls := New("water_level_m", "station", "HN-01")
	f := func(sel string, want bool) {
		t.Helper()
		ms, err := ParseSelector(sel)
		if err != nil {
			t.Fatal(err)
		}
		if got := MatchLabels(ms, ls); got != want {
			t.Fatalf("%s on %s = %v, want %v", sel, ls, got, want)
		}
	}
	f(`water_level_m`, true)
	f(`{station=~"HN"}`, false) // anchored
	f(`{station=~"HN.*"}`, true)
	f(`{province=""}`, true) // absent label is ""
	f(`{province!=""}`, false)
	f(`{station!~"HCM.*"}`, true)
}

func TestQualityRoundTrip(t *testing.T) {
	for _, q := range []Quality{QualityGood, QualityCalibrating, QualityDeviceError, QualityStuck | QualitySpike, QualityDeviceError | QualityOutOfRange | QualityBadTime} {
		got, err := ParseQuality(q.String())
		if err != nil || got != q {
			t.Fatalf("ParseQuality(%q) = %v, %v; want %v", q.String(), got, err, q)
		}
	}
	if _, err := ParseStatus("03"); err == nil {
		t.Fatal("status 03 accepted")
	}
	if !QualityGood.Good() || (QualityStuck).Good() {
		t.Fatal("Good wrong")
	}
}

func TestSampleValidate(t *testing.T) {
	good := New("pm25_ugm3", "station", "HN-01")
	cases := []struct {
		s  Sample
		ok bool
	}{
		{Sample{Labels: good, T: 1, V: 1}, true},
		{Sample{Labels: good, T: 1, V: math.NaN()}, false},
		{Sample{Labels: good, T: 1, V: math.Inf(1)}, false},
		{Sample{Labels: good, T: -1, V: 1}, false},
		{Sample{Labels: good, T: MaxTime, V: 1}, false},
		{Sample{Labels: New("", "station", "x"), T: 1}, false},
		{Sample{Labels: New("9bad"), T: 1}, false},
		{Sample{Labels: New("ok", "bad-name", "x"), T: 1}, false},
		{Sample{Labels: New("ok", "a", "\xff"), T: 1}, false},
		{Sample{Labels: Labels{{"a", "1"}, {MetricName, "m"}}, T: 1}, false},
	}
	for i, c := range cases {
		err := c.s.Validate()
		if (err == nil) != c.ok {
			t.Errorf("case %d (%s): err=%v, want ok=%v", i, c.s.Labels, err, c.ok)
		}
	}
}

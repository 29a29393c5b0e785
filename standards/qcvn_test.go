package standards

import (
	"testing"
	"time"
)

func TestQCVN05PM25Change2026(t *testing.T) {
	before := time.Date(2025, 12, 31, 23, 0, 0, 0, vnLocal)
	after := time.Date(2026, 1, 1, 0, 0, 0, 0, vnLocal)
	l, ok := QCVN05Limit("pm25_ugm3", Hour24, before)
	if !ok || l.Limit != 50 {
		t.Fatalf("2025: %+v %v", l, ok)
	}
	l, ok = QCVN05Limit("pm25_ugm3", Hour24, after)
	if !ok || l.Limit != 45 {
		t.Fatalf("2026: %+v %v", l, ok)
	}
	ex, _, _ := QCVN05Exceeds("pm25_ugm3", Hour24, after, 46)
	if !ex {
		t.Error("46 µg/m³ in 2026 must exceed")
	}
	ex, _, _ = QCVN05Exceeds("pm25_ugm3", Hour24, before, 46)
	if ex {
		t.Error("46 µg/m³ in 2025 must comply")
	}
	if ex, _, _ := QCVN05Exceeds("so2_ugm3", Hour1, after, 350); ex {
		t.Error("equal to the limit complies")
	}
	if _, _, ok := QCVN05Exceeds("pm10_ugm3", Hour1, after, 1); ok {
		t.Error("PM10 has no 1 h limit")
	}
	// Every metric/period pair is unique at any time.
	for _, at := range []time.Time{before, after} {
		seen := map[string]bool{}
		for _, l := range QCVN05Limits {
			if !l.Applies(at) {
				continue
			}
			k := l.Metric + l.Period.String()
			if seen[k] {
				t.Errorf("%s: two limits at %v", k, at)
			}
			seen[k] = true
			if l.Clause == "" {
				t.Errorf("%s: no clause", k)
			}
		}
	}
}

func TestQCVN08Classify(t *testing.T) {
	cases := []struct {
		metric string
		v      float64
		want   WaterClass
	}{
		{"ph", 7, ClassA}, {"ph", 6.5, ClassA}, {"ph", 6.2, ClassB}, {"ph", 5.9, ClassD}, {"ph", 8.6, ClassD},
		{"bod5_mgl", 4, ClassA}, {"bod5_mgl", 4.1, ClassB}, {"bod5_mgl", 10, ClassC}, {"bod5_mgl", 10.1, ClassD},
		{"cod_mgl", 15, ClassB}, {"cod_mgl", 21, ClassD},
		{"do_mgl", 6.0, ClassA}, {"do_mgl", 5.5, ClassB}, {"do_mgl", 4.0, ClassC}, {"do_mgl", 3.9, ClassD},
		{"tss_mgl", 25, ClassA}, {"tss_mgl", 100, ClassB}, {"tss_mgl", 500, ClassC},
		{"tn_mgl", 0.6, ClassA}, {"tp_mgl", 0.51, ClassD}, {"coliform_mpn100ml", 7500, ClassC},
	}
	for _, c := range cases {
		got, err := ClassifyWater(c.metric, c.v)
		if err != nil || got != c.want {
			t.Errorf("%s %v → %v, %v; want %v", c.metric, c.v, got, err, c.want)
		}
	}
	if _, err := ClassifyWater("nh4_mgl", 1); err == nil {
		t.Error("unknown metric must fail")
	}
	c, err := ClassifySample(map[string]float64{"ph": 7, "bod5_mgl": 7, "do_mgl": 6.5})
	if err != nil || c != ClassC {
		t.Errorf("sample class %v, %v; want C", c, err)
	}
}

package standards

import (
	"math"
	"testing"
)

func TestUSPM25Breakpoints2024(t *testing.T) {
	f := func(c float64, want int) {
		t.Helper()
		v, ok := USPM25.Index(c)
		if !ok || RoundAQI(v) != want {
			t.Errorf("US PM2.5 %v → %v (%d); want %d", c, v, RoundAQI(v), want)
		}
	}
	f(0, 0)
	f(9.0, 50)
	f(9.04, 50) // truncated to 9.0
	f(9.1, 51)
	f(35.4, 100)
	f(35.5, 101)
	f(55.4, 150)
	f(55.5, 151)
	f(125.4, 200)
	f(125.5, 201)
	f(225.4, 300)
	f(225.5, 301)
	f(325.4, 500)
	f(600, 500)
	// Mid-band: (100-51)/(35.4-9.1)*(20-9.1)+51 = 71.3 → 71.
	f(20, 71)
	cat, _ := USCategory(71)
	if cat.Name != "Moderate" {
		t.Errorf("category of 71 = %q", cat.Name)
	}
}

func TestUSTablesEdges(t *testing.T) {
	for _, tab := range USTables() {
		for _, s := range tab.Segments {
			for _, c := range []float64{s.CLo, s.CHi} {
				v, ok := tab.Index(c)
				want := s.ILo
				if c == s.CHi {
					want = s.IHi
				}
				if !ok || math.Abs(v-want) > 1e-9 {
					t.Errorf("%s(%v) = %v, %v; want %v", tab.Name, c, v, ok, want)
				}
			}
		}
	}
	if _, ok := USO3Hour8.Index(0.3); ok {
		t.Error("O3 8h above 0.200 ppm must have no index")
	}
}

func TestUgM3ToPPB(t *testing.T) {
	// 100 µg/m³ NO2 ≈ 53.1 ppb.
	v, ok := UgM3ToPPB(NO2, 100)
	if !ok || math.Abs(v-53.14) > 0.01 {
		t.Errorf("NO2 100 µg/m³ = %v ppb", v)
	}
	if _, ok := UgM3ToPPB(PM25, 10); ok {
		t.Error("PM2.5 has no ppb")
	}
}

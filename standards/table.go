package standards

import "math"

// Segment is one row pair of a breakpoint table: concentrations in
// [CLo, CHi] map linearly onto indices [ILo, IHi].
type Segment struct {
	CLo, CHi float64
	ILo, IHi float64
}

// Table is a breakpoint table for one pollutant and averaging period. The
// index of a concentration is the linear interpolation inside the segment
// that contains it (Decision 1459/QĐ-TCMT, section 2.2.1.b, formulas 1 and 2;
// US EPA Technical Assistance Document, equation 1).
type Table struct {
	Name      string    // e.g. "VN_AQI PM2.5"
	Pollutant Pollutant // which pollutant the table is for
	Period    Period    // averaging period of the concentration
	Unit      string    // unit of the concentrations
	Segments  []Segment // in increasing order
	// AboveTop is the index given to concentrations above the last segment;
	// NaN means the table defines no index there (the caller must fall back,
	// as VN_AQI does for O3 8 h above 400 µg/m³).
	AboveTop float64
	// Truncate, when positive, truncates a concentration down to a multiple
	// of this step before the lookup (the US EPA reporting convention).
	Truncate float64
	// Source cites the clause and table the values come from.
	Source string
}

// Index returns the unrounded index of concentration c. ok is false for a
// missing (NaN) or negative concentration, or above the top of a table that
// defines no index there.
func (t *Table) Index(c float64) (v float64, ok bool) {
	if math.IsNaN(c) || math.IsInf(c, 0) || c < 0 || len(t.Segments) == 0 {
		return 0, false
	}
	if t.Truncate > 0 {
		// A small tolerance keeps 35.4 from truncating to 35.3 when the
		// float is 35.39999....
		c = math.Floor(c/t.Truncate+1e-9) * t.Truncate
		c = math.Round(c*1e9) / 1e9 // 55.400000000000006 → 55.4
	}
	for _, s := range t.Segments {
		if c <= s.CHi {
			if c < s.CLo { // inside a reporting gap of a truncated table
				c = s.CLo
			}
			if s.CHi == s.CLo {
				return s.IHi, true
			}
			return (s.IHi-s.ILo)/(s.CHi-s.CLo)*(c-s.CLo) + s.ILo, true
		}
	}
	if math.IsNaN(t.AboveTop) {
		return 0, false
	}
	return t.AboveTop, true
}

// Top returns the highest concentration with a defined segment.
func (t *Table) Top() float64 {
	if len(t.Segments) == 0 {
		return 0
	}
	return t.Segments[len(t.Segments)-1].CHi
}

// RoundAQI rounds an index to the nearest integer, halves up, as both
// Decision 1459/QĐ-TCMT (notes to 2.2.1.c and 2.2.2.c: "làm tròn thành số
// nguyên") and the US EPA ask. A micro-tolerance absorbs float noise so that
// 109.4999999 (an exact 109.5 on paper) rounds to 110.
func RoundAQI(v float64) int {
	return int(math.Floor(math.Round(v*1e6)/1e6 + 0.5))
}

// continuous builds segments from breakpoint rows BP_i / I_i as Decision 1459
// lists them: segment i spans [BP_i, BP_i+1] and [I_i, I_i+1].
func continuous(bp, idx []float64) []Segment {
	if len(bp) != len(idx) {
		panic("BUG: breakpoint and index rows differ in length")
	}
	segs := make([]Segment, 0, len(bp)-1)
	for i := 0; i+1 < len(bp); i++ {
		segs = append(segs, Segment{CLo: bp[i], CHi: bp[i+1], ILo: idx[i], IHi: idx[i+1]})
	}
	return segs
}

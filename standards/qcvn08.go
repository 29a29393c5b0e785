package standards

import (
	"fmt"
	"math"
)

const qcvn08 = "QCVN 08:2023/BTNMT"

// WaterClass is a surface water quality class of QCVN 08:2023/BTNMT, from A
// (good) to D (poor).
type WaterClass uint8

// Water classes of QCVN 08:2023/BTNMT, Bảng 2.
const (
	ClassA WaterClass = iota + 1
	ClassB
	ClassC
	ClassD
)

// String returns "A" .. "D".
func (c WaterClass) String() string {
	if c >= ClassA && c <= ClassD {
		return string(rune('A' + c - 1))
	}
	return fmt.Sprintf("WaterClass(%d)", uint8(c))
}

// LimitKind says how a parameter's limits read.
type LimitKind uint8

// Kinds of water limits.
const (
	AtMost  LimitKind = iota + 1 // class k when value ≤ Limit[k] (BOD5, COD, ...)
	AtLeast                      // class k when value ≥ Limit[k] (DO)
	Within                       // class k when Low[k] ≤ value ≤ Limit[k] (pH)
)

// WaterParam is one row of the river classification table: the bounds of
// classes A, B and C; a value outside C's bound is class D.
type WaterParam struct {
	Parameter string // as printed
	Metric    string // quantrac series name (some proposed here)
	Unit      string
	Kind      LimitKind
	Limit     [3]float64 // A, B, C: upper bound (AtMost, Within) or lower bound (AtLeast)
	Low       [3]float64 // A, B, C lower bounds for Within
	Clause    string
	Note      string
}

// QCVN08River is the classification table of QCVN 08:2023/BTNMT for rivers,
// streams, canals and ditches (Bảng 2, "sông, suối, kênh, mương, khe,
// rạch"), issued with Circular 01/2023/TT-BTNMT. Values were read from a
// published transcription of the table; cells that could not be read there
// are marked in Note and follow from the neighbouring classes. The lake
// table (Bảng 3, with chlorophyll-a) and the human-health limits (Bảng 1)
// are not encoded.
var QCVN08River = []WaterParam{
	{
		Parameter: "pH", Metric: "ph", Unit: "-", Kind: Within,
		Low: [3]float64{6.5, 6.0, 6.0}, Limit: [3]float64{8.5, 8.5, 8.5},
		Clause: qcvn08 + ", section 2, Bảng 2, pH", Note: "D: < 6.0 or > 8.5",
	},
	{
		Parameter: "BOD5 (20 °C)", Metric: "bod5_mgl", Unit: "mg/L", Kind: AtMost,
		Limit: [3]float64{4, 6, 10}, Clause: qcvn08 + ", section 2, Bảng 2, BOD5", Note: "D: > 10",
	},
	{
		Parameter: "COD", Metric: "cod_mgl", Unit: "mg/L", Kind: AtMost,
		Limit: [3]float64{10, 15, 20}, Clause: qcvn08 + ", section 2, Bảng 2, COD",
		Note: "D: > 20 (cell not legible in the transcription; follows from C ≤ 20)",
	},
	{
		Parameter: "TOC", Metric: "toc_mgl", Unit: "mg/L", Kind: AtMost,
		Limit: [3]float64{4, 6, 8}, Clause: qcvn08 + ", section 2, Bảng 2, TOC",
		Note: "C: ≤ 8 (cell not legible in the transcription; follows from D > 8)",
	},
	{
		Parameter: "TSS", Metric: "tss_mgl", Unit: "mg/L", Kind: AtMost,
		Limit: [3]float64{25, 100, math.Inf(1)}, Clause: qcvn08 + ", section 2, Bảng 2, TSS",
		Note: "B: ≤ 100 (cell not legible; follows from C > 100). C and D are both > 100 and differ " +
			"by the presence of floating rubbish, which a sensor cannot see: a TSS reading alone never gives D",
	},
	{
		Parameter: "DO", Metric: "do_mgl", Unit: "mg/L", Kind: AtLeast,
		Limit: [3]float64{6.0, 5.0, 4.0}, Clause: qcvn08 + ", section 2, Bảng 2, DO",
		Note: "A: ≥ 6.0 (cell not legible; as in Bảng 3). The transcription's D cell reads \"≥ 2,0\"; " +
			"this table treats D as below C (< 4.0) - confirm against the printed regulation",
	},
	{
		Parameter: "Tổng Nitơ (T-N)", Metric: "tn_mgl", Unit: "mg/L", Kind: AtMost,
		Limit: [3]float64{0.6, 1.5, 2.0}, Clause: qcvn08 + ", section 2, Bảng 2, total nitrogen", Note: "D: > 2.0",
	},
	{
		Parameter: "Tổng Phospho (T-P)", Metric: "tp_mgl", Unit: "mg/L", Kind: AtMost,
		Limit: [3]float64{0.1, 0.3, 0.5}, Clause: qcvn08 + ", section 2, Bảng 2, total phosphorus", Note: "D: > 0.5",
	},
	{
		Parameter: "Tổng Coliform", Metric: "coliform_mpn100ml", Unit: "CFU or MPN/100 mL", Kind: AtMost,
		Limit: [3]float64{1000, 5000, 7500}, Clause: qcvn08 + ", section 2, Bảng 2, total coliforms", Note: "D: > 7500",
	},
}

// WaterParamFor returns the river classification row of a metric.
func WaterParamFor(metric string) (WaterParam, bool) {
	for _, p := range QCVN08River {
		if p.Metric == metric {
			return p, true
		}
	}
	return WaterParam{}, false
}

// Classify returns the best class whose bound the value meets.
func (p WaterParam) Classify(v float64) (WaterClass, error) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%s: value %v is not a number", p.Parameter, v)
	}
	for k := 0; k < 3; k++ {
		var in bool
		switch p.Kind {
		case AtMost:
			in = v <= p.Limit[k]
		case AtLeast:
			in = v >= p.Limit[k]
		case Within:
			in = v >= p.Low[k] && v <= p.Limit[k]
		}
		if in {
			return WaterClass(k + 1), nil
		}
	}
	return ClassD, nil
}

// ClassifyWater classifies one reading of a metric by QCVN 08:2023 Bảng 2.
func ClassifyWater(metric string, v float64) (WaterClass, error) {
	p, ok := WaterParamFor(metric)
	if !ok {
		return 0, fmt.Errorf("QCVN 08:2023 classification: no row for metric %q", metric)
	}
	return p.Classify(v)
}

// ClassifySample classifies a set of readings of one sample: the class of
// the sample is the worst class among its parameters.
func ClassifySample(values map[string]float64) (WaterClass, error) {
	worst := WaterClass(0)
	for m, v := range values {
		c, err := ClassifyWater(m, v)
		if err != nil {
			return 0, err
		}
		worst = max(worst, c)
	}
	if worst == 0 {
		return 0, fmt.Errorf("QCVN 08:2023 classification: no values")
	}
	return worst, nil
}

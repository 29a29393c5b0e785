package standards

import "math"

// Source of every VN_AQI table in this file.
const decision1459 = "Decision 1459/QĐ-TCMT (2019)"

// vnIndex is the I_i column of Bảng 2 (Decision 1459/QĐ-TCMT, section
// 2.2.1.b, p. 5): the index at each breakpoint row i = 1..8.
var vnIndex = []float64{0, 50, 100, 150, 200, 300, 400, 500}

// The BP_i columns of Bảng 2 (Decision 1459/QĐ-TCMT, section 2.2.1.b, p. 5),
// in µg/m³. Row 8 reads "≥" in the decision: at and above it the index is 500.
// O3 (8h) stops at row 6 (400 µg/m³); above it the decision computes O3 from
// the 1-hour maximum only (section 2.2.2.b).
var (
	// VNPM25 is the PM2.5 column, used with the NowCast (hourly) and with the 24 h mean (daily).
	VNPM25 = &Table{
		Name: "VN_AQI PM2.5", Pollutant: PM25, Period: Hour24, Unit: "µg/m³",
		Segments: continuous([]float64{0, 25, 50, 80, 150, 250, 350, 500}, vnIndex),
		AboveTop: 500,
		Source:   decision1459 + ", 2.2.1.b, Bảng 2, column PM2.5",
	}
	// VNPM10 is the PM10 column, used with the NowCast (hourly) and with the 24 h mean (daily).
	VNPM10 = &Table{
		Name: "VN_AQI PM10", Pollutant: PM10, Period: Hour24, Unit: "µg/m³",
		Segments: continuous([]float64{0, 50, 150, 250, 350, 420, 500, 600}, vnIndex),
		AboveTop: 500,
		Source:   decision1459 + ", 2.2.1.b, Bảng 2, column PM10",
	}
	// VNO3Hour1 is the O3 (1h) column: hourly AQI of O3 and the daily 1 h maximum.
	VNO3Hour1 = &Table{
		Name: "VN_AQI O3 (1h)", Pollutant: O3, Period: Hour1, Unit: "µg/m³",
		Segments: continuous([]float64{0, 160, 200, 300, 400, 800, 1000, 1200}, vnIndex),
		AboveTop: 500,
		Source:   decision1459 + ", 2.2.1.b, Bảng 2, column O3 (1h)",
	}
	// VNO3Hour8 is the O3 (8h) column, defined up to 400 µg/m³ (index 300).
	VNO3Hour8 = &Table{
		Name: "VN_AQI O3 (8h)", Pollutant: O3, Period: Hour8, Unit: "µg/m³",
		Segments: continuous([]float64{0, 100, 120, 170, 210, 400}, vnIndex[:6]),
		AboveTop: math.NaN(),
		Source:   decision1459 + ", 2.2.1.b, Bảng 2, column O3 (8h); 2.2.2.b: not used above 400 µg/m³",
	}
	// VNCO is the CO column (hourly value, and the daily 1 h maximum).
	VNCO = &Table{
		Name: "VN_AQI CO", Pollutant: CO, Period: Hour1, Unit: "µg/m³",
		Segments: continuous([]float64{0, 10000, 30000, 45000, 60000, 90000, 120000, 150000}, vnIndex),
		AboveTop: 500,
		Source:   decision1459 + ", 2.2.1.b, Bảng 2, column CO",
	}
	// VNSO2 is the SO2 column (hourly value, and the daily 1 h maximum).
	VNSO2 = &Table{
		Name: "VN_AQI SO2", Pollutant: SO2, Period: Hour1, Unit: "µg/m³",
		Segments: continuous([]float64{0, 125, 350, 550, 800, 1600, 2100, 2630}, vnIndex),
		AboveTop: 500,
		Source:   decision1459 + ", 2.2.1.b, Bảng 2, column SO2",
	}
	// VNNO2 is the NO2 column (hourly value, and the daily 1 h maximum).
	VNNO2 = &Table{
		Name: "VN_AQI NO2", Pollutant: NO2, Period: Hour1, Unit: "µg/m³",
		Segments: continuous([]float64{0, 100, 200, 700, 1200, 2350, 3100, 3850}, vnIndex),
		AboveTop: 500,
		Source:   decision1459 + ", 2.2.1.b, Bảng 2, column NO2",
	}
)

// VNTables lists every column of Bảng 2.
func VNTables() []*Table {
	return []*Table{VNPM25, VNPM10, VNO3Hour1, VNO3Hour8, VNCO, VNSO2, VNNO2}
}

// VNTable returns the Bảng 2 column used for p's hourly index (for O3 the
// 1 h column; the 8 h column is VNO3Hour8).
func VNTable(p Pollutant) *Table {
	switch p {
	case PM25:
		return VNPM25
	case PM10:
		return VNPM10
	case O3:
		return VNO3Hour1
	case CO:
		return VNCO
	case SO2:
		return VNSO2
	case NO2:
		return VNNO2
	}
	return nil
}

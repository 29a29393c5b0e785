package standards

import "math"

// Source of the US EPA tables.
const epaTAD = "US EPA, Technical Assistance Document for the Reporting of Daily Air Quality (AQI), May 2024, Table 6"

// US EPA AQI breakpoints. The PM2.5 rows are those of the PM NAAQS revision
// of 7 February 2024 (Good up to 9.0 µg/m³, Hazardous 225.5-325.4 → 301-500);
// the 9.0 and 325.4 end points were checked against public references to
// EPA's 2024 fact sheet, the rows between them were not re-checked. The other
// pollutants keep their long-standing rows, with the Hazardous band as one
// 301-500 range as in the 2024 document; not re-checked against its text. Concentrations
// are truncated to the reporting precision before the lookup, as EPA does.
// Gas tables are in ppm or ppb; convert µg/m³ series with UgM3ToPPB.
var (
	// USPM25 is PM2.5, 24 h (or NowCast), µg/m³, 2024 breakpoints.
	USPM25 = &Table{
		Name: "US AQI PM2.5 (2024)", Pollutant: PM25, Period: Hour24, Unit: "µg/m³", Truncate: 0.1,
		Segments: []Segment{
			{0.0, 9.0, 0, 50}, {9.1, 35.4, 51, 100}, {35.5, 55.4, 101, 150},
			{55.5, 125.4, 151, 200}, {125.5, 225.4, 201, 300}, {225.5, 325.4, 301, 500},
		},
		AboveTop: 500, Source: epaTAD + ", PM2.5 (2024 NAAQS revision)",
	}
	// USPM10 is PM10, 24 h (or NowCast), µg/m³.
	USPM10 = &Table{
		Name: "US AQI PM10", Pollutant: PM10, Period: Hour24, Unit: "µg/m³", Truncate: 1,
		Segments: []Segment{
			{0, 54, 0, 50}, {55, 154, 51, 100}, {155, 254, 101, 150},
			{255, 354, 151, 200}, {355, 424, 201, 300}, {425, 604, 301, 500},
		},
		AboveTop: 500, Source: epaTAD + ", PM10",
	}
	// USO3Hour8 is O3, 8 h, ppm; above 0.200 ppm EPA uses the 1 h table.
	USO3Hour8 = &Table{
		Name: "US AQI O3 8h", Pollutant: O3, Period: Hour8, Unit: "ppm", Truncate: 0.001,
		Segments: []Segment{
			{0.000, 0.054, 0, 50}, {0.055, 0.070, 51, 100}, {0.071, 0.085, 101, 150},
			{0.086, 0.105, 151, 200}, {0.106, 0.200, 201, 300},
		},
		AboveTop: math.NaN(), Source: epaTAD + ", O3 8-hour",
	}
	// USO3Hour1 is O3, 1 h, ppm; defined from 0.125 ppm (AQI 101) up.
	USO3Hour1 = &Table{
		Name: "US AQI O3 1h", Pollutant: O3, Period: Hour1, Unit: "ppm", Truncate: 0.001,
		Segments: []Segment{
			{0.125, 0.164, 101, 150}, {0.165, 0.204, 151, 200}, {0.205, 0.404, 201, 300},
			{0.405, 0.604, 301, 500},
		},
		AboveTop: 500, Source: epaTAD + ", O3 1-hour",
	}
	// USCO is CO, 8 h, ppm.
	USCO = &Table{
		Name: "US AQI CO", Pollutant: CO, Period: Hour8, Unit: "ppm", Truncate: 0.1,
		Segments: []Segment{
			{0.0, 4.4, 0, 50}, {4.5, 9.4, 51, 100}, {9.5, 12.4, 101, 150},
			{12.5, 15.4, 151, 200}, {15.5, 30.4, 201, 300}, {30.5, 50.4, 301, 500},
		},
		AboveTop: 500, Source: epaTAD + ", CO 8-hour",
	}
	// USSO2 is SO2, 1 h, ppb; EPA reports above 304 ppb from the 24 h mean,
	// which this table does not cover.
	USSO2 = &Table{
		Name: "US AQI SO2", Pollutant: SO2, Period: Hour1, Unit: "ppb", Truncate: 1,
		Segments: []Segment{
			{0, 35, 0, 50}, {36, 75, 51, 100}, {76, 185, 101, 150}, {186, 304, 151, 200},
		},
		AboveTop: math.NaN(), Source: epaTAD + ", SO2 1-hour",
	}
	// USNO2 is NO2, 1 h, ppb.
	USNO2 = &Table{
		Name: "US AQI NO2", Pollutant: NO2, Period: Hour1, Unit: "ppb", Truncate: 1,
		Segments: []Segment{
			{0, 53, 0, 50}, {54, 100, 51, 100}, {101, 360, 101, 150},
			{361, 649, 151, 200}, {650, 1249, 201, 300}, {1250, 2049, 301, 500},
		},
		AboveTop: 500, Source: epaTAD + ", NO2 1-hour",
	}
)

// USTables lists the US EPA tables.
func USTables() []*Table {
	return []*Table{USPM25, USPM10, USO3Hour8, USO3Hour1, USCO, USSO2, USNO2}
}

// USCategories are the US EPA AQI bands and colours (same RGB as VN_AQI).
var USCategories = []Category{
	{Level: 1, Min: 0, Max: 50, Name: "Good", NameEN: "Good", Colour: "Green", RGB: [3]uint8{0, 228, 0}, Hex: "#00e400", Source: epaTAD},
	{Level: 2, Min: 51, Max: 100, Name: "Moderate", NameEN: "Moderate", Colour: "Yellow", RGB: [3]uint8{255, 255, 0}, Hex: "#ffff00", Source: epaTAD},
	{Level: 3, Min: 101, Max: 150, Name: "Unhealthy for Sensitive Groups", NameEN: "Unhealthy for Sensitive Groups", Colour: "Orange", RGB: [3]uint8{255, 126, 0}, Hex: "#ff7e00", Source: epaTAD},
	{Level: 4, Min: 151, Max: 200, Name: "Unhealthy", NameEN: "Unhealthy", Colour: "Red", RGB: [3]uint8{255, 0, 0}, Hex: "#ff0000", Source: epaTAD},
	{Level: 5, Min: 201, Max: 300, Name: "Very Unhealthy", NameEN: "Very Unhealthy", Colour: "Purple", RGB: [3]uint8{143, 63, 151}, Hex: "#8f3f97", Source: epaTAD},
	{Level: 6, Min: 301, Max: 500, Name: "Hazardous", NameEN: "Hazardous", Colour: "Maroon", RGB: [3]uint8{126, 0, 35}, Hex: "#7e0023", Source: epaTAD},
}

// USCategory returns the US EPA band of a rounded index.
func USCategory(aqi int) (Category, bool) { return categoryOf(USCategories, aqi) }

// molarMass in g/mol for the gas conversions.
var molarMass = map[Pollutant]float64{O3: 48.00, NO2: 46.01, SO2: 64.07, CO: 28.01}

// UgM3ToPPB converts a gas concentration in µg/m³ to ppb at 25 °C and
// 1 atm (molar volume 24.45 L), the reference conditions of both EPA and
// QCVN 05:2023/BTNMT (1.3.10). ok is false for particulate matter.
func UgM3ToPPB(p Pollutant, ugm3 float64) (float64, bool) {
	m, ok := molarMass[p]
	if !ok {
		return 0, false
	}
	return ugm3 * 24.45 / m, true
}

// USHourlyPM returns the US AQI of PM2.5 or PM10 from the NowCast of the
// 12 hourly means c (c[0] current), EPA's hourly reporting method. EPA's
// NowCast is the same weighted mean as Decision 1459's.
func USHourlyPM(p Pollutant, c []float64) (SubIndex, bool) {
	t := USPM25
	if p == PM10 {
		t = USPM10
	} else if p != PM25 {
		return SubIndex{}, false
	}
	nc, ok := NowCast(c)
	if !ok {
		return SubIndex{}, false
	}
	v, ok := t.Index(nc)
	if !ok {
		return SubIndex{}, false
	}
	return SubIndex{OK: true, Conc: nc, Value: v}, true
}

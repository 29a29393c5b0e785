package standards

import (
	"fmt"
	"time"
)

// qcvn05 names the regulation every AirLimit cites.
const qcvn05 = "QCVN 05:2023/BTNMT"

// AirLimit is one maximum limit of QCVN 05:2023/BTNMT for ambient air.
type AirLimit struct {
	Parameter string  // as printed, e.g. "PM2,5"
	Metric    string  // quantrac series name
	Period    Period  // averaging period
	Limit     float64 // µg/Nm³ (25 °C, 760 mmHg, clause 1.3.10)
	// ValidFrom and ValidUntil bound when the limit applies (zero: open).
	ValidFrom, ValidUntil time.Time
	Clause                string // clause and table
	Note                  string
}

// Applies reports whether the limit is in force at t.
func (l AirLimit) Applies(t time.Time) bool {
	if !l.ValidFrom.IsZero() && t.Before(l.ValidFrom) {
		return false
	}
	if !l.ValidUntil.IsZero() && !t.Before(l.ValidUntil) {
		return false
	}
	return true
}

// Key names the limit in rule names: "pm25_ugm3_24h" (plus "_from2026" for a dated one).
func (l AirLimit) Key() string {
	k := l.Metric + "_" + l.Period.String()
	if !l.ValidFrom.IsZero() {
		k += fmt.Sprintf("_from%d", l.ValidFrom.Year())
	}
	if !l.ValidUntil.IsZero() {
		k += fmt.Sprintf("_until%d", l.ValidUntil.Year())
	}
	return k
}

// vnLocal is Asia/Ho_Chi_Minh (UTC+7, no daylight saving), fixed so the
// package needs no time zone database.
var vnLocal = time.FixedZone("ICT", 7*3600)

// pm25Change is when the 24 h PM2.5 limit drops from 50 to 45 µg/Nm³
// (QCVN 05:2023/BTNMT, Bảng 1, note (*): from 1 January 2026).
var pm25Change = time.Date(2026, 1, 1, 0, 0, 0, 0, vnLocal)

// QCVN05Limits is Bảng 1 of QCVN 05:2023/BTNMT (clause 2.1): maximum limits of
// the basic parameters in ambient air, µg/Nm³; "-" cells (not regulated) are
// absent. The regulation was issued with Circular 01/2023/TT-BTNMT of
// 13 March 2023 and replaces QCVN 05:2013/BTNMT. TSP has no quantrac input
// series yet; its metric name tsp_ugm3 is proposed here.
var QCVN05Limits = []AirLimit{
	{Parameter: "SO2", Metric: "so2_ugm3", Period: Hour1, Limit: 350, Clause: qcvn05 + ", 2.1, Bảng 1, row 1"},
	{Parameter: "SO2", Metric: "so2_ugm3", Period: Hour24, Limit: 125, Clause: qcvn05 + ", 2.1, Bảng 1, row 1"},
	{Parameter: "SO2", Metric: "so2_ugm3", Period: Year, Limit: 50, Clause: qcvn05 + ", 2.1, Bảng 1, row 1"},
	{Parameter: "CO", Metric: "co_ugm3", Period: Hour1, Limit: 30000, Clause: qcvn05 + ", 2.1, Bảng 1, row 2"},
	{Parameter: "CO", Metric: "co_ugm3", Period: Hour8, Limit: 10000, Clause: qcvn05 + ", 2.1, Bảng 1, row 2"},
	{Parameter: "NO2", Metric: "no2_ugm3", Period: Hour1, Limit: 200, Clause: qcvn05 + ", 2.1, Bảng 1, row 3"},
	{Parameter: "NO2", Metric: "no2_ugm3", Period: Hour24, Limit: 100, Clause: qcvn05 + ", 2.1, Bảng 1, row 3"},
	{Parameter: "NO2", Metric: "no2_ugm3", Period: Year, Limit: 40, Clause: qcvn05 + ", 2.1, Bảng 1, row 3"},
	{Parameter: "O3", Metric: "o3_ugm3", Period: Hour1, Limit: 200, Clause: qcvn05 + ", 2.1, Bảng 1, row 4"},
	{Parameter: "O3", Metric: "o3_ugm3", Period: Hour8, Limit: 120, Clause: qcvn05 + ", 2.1, Bảng 1, row 4"},
	{Parameter: "TSP", Metric: "tsp_ugm3", Period: Hour1, Limit: 300, Clause: qcvn05 + ", 2.1, Bảng 1, row 5"},
	{Parameter: "TSP", Metric: "tsp_ugm3", Period: Hour24, Limit: 200, Clause: qcvn05 + ", 2.1, Bảng 1, row 5"},
	{Parameter: "TSP", Metric: "tsp_ugm3", Period: Year, Limit: 100, Clause: qcvn05 + ", 2.1, Bảng 1, row 5"},
	{Parameter: "PM10", Metric: "pm10_ugm3", Period: Hour24, Limit: 100, Clause: qcvn05 + ", 2.1, Bảng 1, row 6"},
	{Parameter: "PM10", Metric: "pm10_ugm3", Period: Year, Limit: 50, Clause: qcvn05 + ", 2.1, Bảng 1, row 6"},
	{
		Parameter: "PM2,5", Metric: "pm25_ugm3", Period: Hour24, Limit: 50, ValidUntil: pm25Change,
		Clause: qcvn05 + ", 2.1, Bảng 1, row 7", Note: "until 31 December 2025",
	},
	{
		Parameter: "PM2,5", Metric: "pm25_ugm3", Period: Hour24, Limit: 45, ValidFrom: pm25Change,
		Clause: qcvn05 + ", 2.1, Bảng 1, row 7, note (*)", Note: "from 1 January 2026",
	},
	{Parameter: "PM2,5", Metric: "pm25_ugm3", Period: Year, Limit: 25, Clause: qcvn05 + ", 2.1, Bảng 1, row 7"},
}

// QCVN05Limit returns the limit for metric and period in force at t.
func QCVN05Limit(metric string, p Period, t time.Time) (AirLimit, bool) {
	for _, l := range QCVN05Limits {
		if l.Metric == metric && l.Period == p && l.Applies(t) {
			return l, true
		}
	}
	return AirLimit{}, false
}

// QCVN05Exceeds reports whether an average over p at time t is above the
// limit in force ("giá trị giới hạn tối đa": equal to the limit complies).
// ok is false when QCVN 05:2023 sets no limit for that metric and period.
func QCVN05Exceeds(metric string, p Period, t time.Time, avg float64) (exceeds bool, limit AirLimit, ok bool) {
	l, ok := QCVN05Limit(metric, p, t)
	if !ok {
		return false, l, false
	}
	return avg > l.Limit, l, true
}

package standards_test

import (
	"fmt"
	"time"

	"github.com/quantrac/quantrac/standards"
)

// The hourly example of Decision 1459/QĐ-TCMT, 2.3.b, through the API: 12
// hours of PM2.5 and one hour of O3 and NO2.
func ExampleHourlyVNAQI() {
	start := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC).UnixMilli()
	s := standards.NewStationHours(start, 12)
	for i, v := range []float64{26.9, 24.7, 20.5, 23.5, 19.5, 16.5, 19.0, 16.5, 20.3, 22.4, 19.6, 20.6} {
		s.Set(standards.PM25, i, v)
	}
	s.Set(standards.O3, 11, 136.1)
	s.Set(standards.NO2, 11, 118.7)
	r := standards.HourlyVNAQI(s, 11)
	cat, _ := r.Category()
	fmt.Printf("NowCast PM2.5 %.1f µg/m³ → %d\n", r.Sub[standards.PM25].Conc, r.Sub[standards.PM25].AQI())
	fmt.Printf("AQI^h %d (%s), %s %s\n", r.AQI, r.Dominant.Name(), cat.Name, cat.Hex)
	// Output:
	// NowCast PM2.5 20.3 µg/m³ → 41
	// AQI^h 59 (NO2), Trung bình #ffff00
}

func ExampleFloodTable_Level() {
	tab, _ := standards.NewFloodTable()
	level, _ := tab.Level("HN-LongBien", 10.62)
	fmt.Println("Long Biên 10.62 m: báo động", level)
	// Output: Long Biên 10.62 m: báo động 2
}

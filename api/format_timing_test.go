package api

import (
	"fmt"
	"strings"
	"testing"

	"github.com/quantrac/quantrac/model"
)

// promBenchText is 12 stations x 11 parameters x 100 hours, row by row as
// an hourly datalogger export would be.
func promBenchText() []byte {
	var b strings.Builder
	params := []string{"pm2_5", "pm10", "so2", "no2", "co", "o3", "temp", "pres", "dewp", "rain", "wspm"}
	for st := 0; st < 12; st++ {
		for h := 0; h < 100; h++ {
			for i, p := range params {
				fmt.Fprintf(&b, "%s{station=\"S%02d\",province=\"BJ\",kind=\"air\"} %d.%d %d\n", p, st, 10+i, h%10, t0+int64(h)*3600000)
			}
		}
	}
	return []byte(b.String())
}

var sinkSamples int

func BenchmarkPromTextParse(b *testing.B) {
	data := promBenchText()
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	batch := make([]model.Sample, 0, 16384)
	src := make([]int, 0, 16384)
	for i := 0; i < b.N; i++ {
		var res model.AppendResult
		p := newPromTextParser(0, nil)
		batch, src = p.parse(data, batch[:0], src[:0], &res)
		sinkSamples += len(batch)
	}
}

func BenchmarkInfluxParse(b *testing.B) {
	var sb strings.Builder
	for h := 0; h < 1000; h++ {
		fmt.Fprintf(&sb, "weather,station=S%02d,province=BJ temperature_c=2%d.5,humidity_percent=%di %d\n", h%12, h%10, 50+h%40, t0+int64(h)*1000)
	}
	data := []byte(sb.String())
	conv, _ := influxPrecision("ms")
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for i := 0; i < b.N; i++ {
		var res model.AppendResult
		batch, _ := parseInflux(data, conv, 0, nil, nil, nil, &res)
		sinkSamples += len(batch)
	}
}

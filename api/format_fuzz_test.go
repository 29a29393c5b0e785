package api

import (
	"testing"

	"github.com/quantrac/quantrac/model"
)

func FuzzPromText(f *testing.F) {
	for _, s := range []string{
		"x 1\n", `x{a="b",c="d\"e"} 1.5 1764032400000` + "\n", "# HELP x\nx{} NaN\n", `{__name__="x"} +Inf 1`,
		`x{a="b" 1`, "x{a=\"\\", "x 1 2 3", "\n\n\t x \t 1 \t", `x{a="b",} 1`, `x{,} 1`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var res model.AppendResult
		p := newPromTextParser(1, model.Labels{{Name: "e", Value: "x"}})
		batch, src := p.parse([]byte(s), nil, nil, &res)
		if len(batch) != len(src) {
			t.Fatalf("%d samples, %d sources", len(batch), len(src))
		}
		for _, smp := range batch {
			if smp.Labels.Get("e") != "x" {
				t.Fatalf("extra label lost: %s", smp.Labels)
			}
		}
	})
}

func FuzzInflux(f *testing.F) {
	for _, s := range []string{
		"m,t=a f=1 1", `m f="x y",g=2i`, "m,t\\ x=a\\,b f=t", "m f=1u 10", `m f="unterminated`, "m", "m  f=1", ",t=a f=1",
	} {
		f.Add(s)
	}
	conv, _ := influxPrecision("")
	f.Fuzz(func(t *testing.T, s string) {
		var res model.AppendResult
		batch, src := parseInflux([]byte(s), conv, 1, nil, nil, nil, &res)
		if len(batch) != len(src) {
			t.Fatalf("%d samples, %d sources", len(batch), len(src))
		}
	})
}

func FuzzJSONLines(f *testing.F) {
	f.Add(`{"metric":{"__name__":"x"},"values":[1,null],"timestamps":[1,2]}`)
	f.Add(`{"metric":{},"values":[],"timestamps":[1]}`)
	f.Fuzz(func(t *testing.T, s string) {
		var res model.AppendResult
		batch, src := parseJSONLines([]byte(s), nil, nil, nil, &res)
		if len(batch) != len(src) {
			t.Fatalf("%d samples, %d sources", len(batch), len(src))
		}
	})
}

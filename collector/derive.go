package collector

import (
	"math"

	"github.com/quantrac/quantrac/model"
)

// derive appends the configured derived series to samples and removes
// inputs marked drop_inputs. Inputs are matched by metric name and
// timestamp among the samples of one station.
func derive(samples []model.Sample, rules []DeriveConfig) []model.Sample {
	if len(rules) == 0 {
		return samples
	}
	type key struct {
		metric string
		t      int64
	}
	idx := make(map[key]int, len(samples))
	for i := range samples {
		idx[key{samples[i].Labels.Metric(), samples[i].T}] = i
	}
	drop := map[string]bool{}
	n := len(samples)
	for _, r := range rules {
		if r.DropInputs {
			for _, in := range r.Inputs {
				drop[in] = true
			}
		}
		for i := 0; i < n; i++ {
			first := &samples[i]
			if first.Labels.Metric() != r.Inputs[0] {
				continue
			}
			vals := []float64{first.V}
			q := first.Q
			ok := true
			for _, in := range r.Inputs[1:] {
				j, found := idx[key{in, first.T}]
				if !found {
					ok = false
					break
				}
				vals = append(vals, samples[j].V)
				q |= samples[j].Q
			}
			if !ok {
				continue
			}
			v := applyDerive(r, vals)
			samples = append(samples, model.Sample{Labels: first.Labels.With(model.MetricName, r.Metric), T: first.T, V: v, Q: q})
		}
	}
	if len(drop) == 0 {
		return samples
	}
	out := samples[:0]
	for _, s := range samples {
		if !drop[s.Labels.Metric()] {
			out = append(out, s)
		}
	}
	return out
}

func applyDerive(r DeriveConfig, v []float64) float64 {
	switch r.Func {
	case "rh_from_dew_point":
		return RHFromDewPoint(v[0], v[1])
	case "mg_to_ug":
		return v[0] * 1000
	case "cm_to_m":
		return v[0] / 100
	case "mm_to_m":
		return v[0] / 1000
	case "scale":
		return v[0]*r.Factor + r.Offset
	}
	return math.NaN()
}

// RHFromDewPoint is relative humidity in percent from air temperature and
// dew point in °C (Magnus formula, Alduchov and Eskridge constants).
func RHFromDewPoint(tempC, dewC float64) float64 {
	const a, b = 17.625, 243.04
	rh := 100 * math.Exp(a*dewC/(b+dewC)) / math.Exp(a*tempC/(b+tempC))
	return math.Round(rh*100) / 100
}

package main

import (
	"context"
	"fmt"
	"time"

	"github.com/quantrac/quantrac/drivers/modbus"
	"github.com/quantrac/quantrac/model"
	"github.com/quantrac/quantrac/simulator"
)

// The demo opens on a province that has been running for a while: before
// the collector starts, the last backfillSpan of readings is written into
// the store, one sample per backfillStep, as a department would import a
// datalogger's archive. It gives the charts a history and the AQI job the
// hours that NowCast needs, so AQI shows within a minute. It goes to the
// store directly, not through the ingest route, so that the alert engine
// does not page anyone about yesterday.
const (
	backfillSpan = 24 * time.Hour
	backfillStep = time.Minute
)

// backfill writes the simulated history of every station and parameter.
// The past is read from the simulator compressed by its speed-up, so a
// backfilled day is one simulated day (smooth tides and diurnal cycles)
// stamped on the last 24 wall-clock hours.
func backfill(ctx context.Context, sim *simulator.Simulator, w model.Writer) (int, error) {
	start := sim.StartTime()
	total := 0
	maps := map[string]*modbus.RegisterMap{}
	for _, st := range sim.Stations() {
		extra, err := mapLabels(st, maps)
		if err != nil {
			return total, err
		}
		speed := st.Speed
		if speed <= 0 {
			speed = 1
		}
		var batch []model.Sample
		for _, param := range st.Parameters {
			lm := map[string]string{
				model.MetricName:    param,
				model.LabelStation:  st.ID,
				model.LabelProvince: st.Province,
				model.LabelKind:     st.Kind,
			}
			for k, v := range extra[param] {
				lm[k] = v
			}
			ls := model.FromMap(lm)
			for ago := backfillSpan; ago >= backfillStep; ago -= backfillStep {
				stamp := start.Add(-ago)
				at := start.Add(-time.Duration(float64(ago) / speed))
				r, err := sim.Truth(st.ID, param, at)
				if err != nil {
					return total, fmt.Errorf("backfill %s %s: %w", st.ID, param, err)
				}
				if !r.OK || r.V == nil {
					continue
				}
				batch = append(batch, model.Sample{Labels: ls, T: stamp.UnixMilli(), V: *r.V})
			}
		}
		res, err := w.Append(ctx, batch)
		if err != nil {
			return total, fmt.Errorf("backfill %s: %w", st.ID, err)
		}
		if res.Rejected > 0 {
			return total, fmt.Errorf("backfill %s: %d samples rejected, first: %s", st.ID, res.Rejected, res.Errors[0].Reason)
		}
		total += res.Stored
	}
	return total, nil
}

// mapLabels gives, per metric, the extra labels a Modbus station's register
// map adds, so backfilled series are the same series the collector writes.
func mapLabels(st simulator.StationInfo, cache map[string]*modbus.RegisterMap) (map[string]map[string]string, error) {
	if st.Map == "" {
		return nil, nil
	}
	m := cache[st.Map]
	if m == nil {
		var err error
		if m, err = modbus.LoadRegisterMap(st.Map); err != nil {
			return nil, fmt.Errorf("backfill %s: %w", st.ID, err)
		}
		cache[st.Map] = m
	}
	out := map[string]map[string]string{}
	for _, r := range m.Registers {
		if len(r.Labels) > 0 {
			out[r.Metric] = r.Labels
		}
	}
	return out, nil
}

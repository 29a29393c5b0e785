package standards

import (
	"context"

	"github.com/quantrac/quantrac/model"
)

// Observer sees samples once they are stored (alerting.Engine has this method).
type Observer interface {
	Observe(ctx context.Context, samples []model.Sample)
}

// ObservedWriter is a model.Writer that passes every stored sample of a
// batch on to observers after W stored it. Give it to NewAQIJob so that
// alert rules on aqi_vn (configs/rules/aqi-vn.yaml) see the derived values
// the way they see ingested ones.
type ObservedWriter struct {
	W         model.Writer
	Observers []Observer
}

// Append stores batch through W, then hands the accepted samples to each
// observer. Rejected samples are not observed; a failed batch is not observed.
func (o ObservedWriter) Append(ctx context.Context, batch []model.Sample) (model.AppendResult, error) {
	res, err := o.W.Append(ctx, batch)
	if err != nil || len(o.Observers) == 0 {
		return res, err
	}
	stored := batch
	if len(res.Errors) > 0 {
		bad := make(map[int]bool, len(res.Errors))
		for _, e := range res.Errors {
			bad[e.Index] = true
		}
		stored = make([]model.Sample, 0, len(batch))
		for i, s := range batch {
			if !bad[i] {
				stored = append(stored, s)
			}
		}
	}
	if len(stored) > 0 {
		for _, ob := range o.Observers {
			ob.Observe(ctx, stored)
		}
	}
	return res, nil
}

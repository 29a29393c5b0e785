package vmstore

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/quantrac/quantrac/model"
)

// Append validates the batch, writes the good samples as JSON lines to
// /api/v1/import (per tenant in cluster mode) and reports the bad ones.
// An error means VictoriaMetrics did not take the batch.
func (s *Store) Append(ctx context.Context, batch []model.Sample) (model.AppendResult, error) {
	var res model.AppendResult
	bufs := map[int]*bytes.Buffer{}
	stored := 0
	for i := 0; i < len(batch); {
		smp := &batch[i]
		if err := smp.Validate(); err != nil {
			res.Reject(i, err)
			i++
			continue
		}
		if smp.Labels.Get("metric") != "" {
			res.Reject(i, fmt.Errorf("series %s: label \"metric\" is reserved in victoriametrics storage", smp.Labels))
			i++
			continue
		}
		// A run of valid samples of the same series becomes one line.
		j := i + 1
		for j < len(batch) && batch[j].Labels.Equal(smp.Labels) && batch[j].Validate() == nil {
			j++
		}
		tenant := s.tenantOf(smp.Labels.Get(model.LabelProvince))
		buf := bufs[tenant]
		if buf == nil {
			buf = &bytes.Buffer{}
			bufs[tenant] = buf
		}
		run := batch[i:j]
		writeLine(buf, smp.Labels, "", run, func(p *model.Sample) float64 { return p.V }, nil)
		var bad []model.Sample
		for _, p := range run {
			if !p.Q.Good() {
				bad = append(bad, p)
			}
		}
		if len(bad) > 0 {
			writeLine(buf, smp.Labels, QualityMetric, bad, func(p *model.Sample) float64 { return float64(p.Q) }, nil)
		}
		stored += len(run)
		i = j
	}
	for tenant, buf := range bufs {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.writeURL(tenant, "/api/v1/import"), bytes.NewReader(buf.Bytes()))
		if err != nil {
			return model.AppendResult{}, fmt.Errorf("victoriametrics import: %w", err)
		}
		if _, err := s.do(req); err != nil {
			return model.AppendResult{}, err
		}
	}
	res.Stored = stored
	return res, nil
}

// writeLine appends {"metric":{...},"values":[...],"timestamps":[...]}.
// With rename set the series is renamed and its name moves to label "metric".
func writeLine(buf *bytes.Buffer, ls model.Labels, rename string, run []model.Sample, val func(*model.Sample) float64, _ any) {
	buf.WriteString(`{"metric":{`)
	first := true
	for _, l := range ls {
		name, value := l.Name, l.Value
		if rename != "" && name == model.MetricName {
			name = "metric"
		}
		if !first {
			buf.WriteByte(',')
		}
		first = false
		buf.WriteString(strconv.Quote(name))
		buf.WriteByte(':')
		writeJSONString(buf, value)
	}
	if rename != "" {
		buf.WriteString(`,"__name__":`)
		writeJSONString(buf, rename)
	}
	buf.WriteString(`},"values":[`)
	for k := range run {
		if k > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString(strconv.FormatFloat(val(&run[k]), 'g', -1, 64))
	}
	buf.WriteString(`],"timestamps":[`)
	for k := range run {
		if k > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString(strconv.FormatInt(run[k].T, 10))
	}
	buf.WriteString("]}\n")
}

// writeJSONString writes s as a JSON string (UTF-8 kept as is).
func writeJSONString(buf *bytes.Buffer, s string) {
	buf.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			buf.WriteByte('\\')
			buf.WriteByte(c)
		case c < 0x20:
			fmt.Fprintf(buf, `\u%04x`, c)
		default:
			buf.WriteByte(c)
		}
	}
	buf.WriteByte('"')
}

package mqtt

import (
	"fmt"
	"math"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/quantrac/quantrac/model"
)

// senmlRelativeLimit is 2**28 s: SenML times below it are relative to now
// (RFC 8428 section 4.5.3).
const senmlRelativeLimit = 1 << 28

// SenMLStatusName is the record name (after the base name) that carries the
// Circular 10 status of a pack, as "vs":"01" or "v":1. SenML has no status
// field; this is quantrac's convention, and it applies to every record of
// the pack.
const SenMLStatusName = "status"

type senmlBase struct {
	name  string
	time  float64
	value float64
}

type senmlRecord struct {
	name       string
	t          float64
	v          float64
	hasV       bool
	isBool     bool
	vs         string
	hasVS      bool
	unsupValue string // "vd" or "s" when that is the only value
}

type senmlResolved struct {
	metric  string
	station string
	t       int64
	v       float64
	q       model.Quality
}

// DecodeSenML appends the samples of a SenML JSON pack (RFC 8428) to dst and
// returns the result, e.g.
//
//	[{"bn":"HN-01:","bt":1764032400,"n":"pm25_ugm3","u":"ug/m3","v":12.5},{"n":"pm10_ugm3","v":30}]
//
// Names resolve as bn+n; the part after the last ':' or '/' is the metric
// and the part before it the station (used when the topic gives none).
// Times resolve as bt+t in seconds; values below 2**28 are relative to
// m.Received, and a resolved time that is not representable gives
// m.Received with model.QualityBadTime. Values are bv+v, or vb as 1/0;
// string and data values ("vs", "vd") are reported except for the status
// record (SenMLStatusName). A record that cannot be used is reported and
// the others are still decoded; a pack that is not valid SenML JSON, or that
// has a must-understand field (name ending in "_"), adds nothing.
func DecodeSenML(dst []model.Sample, payload []byte, m *Meta) ([]model.Sample, error) {
	if len(payload) == 0 {
		return dst, ErrEmptyPayload
	}
	jr := getJSONReader(payload)
	defer putJSONReader(jr)
	d := &jr.d

	tok, err := d.ReadToken()
	if err != nil {
		return dst, fmt.Errorf("invalid JSON: %w", err)
	}
	if tok.Kind() != '[' {
		return dst, fmt.Errorf("SenML: want a JSON array, got %s", tok.Kind())
	}
	var (
		fe        fieldErrors
		base      senmlBase
		out       []senmlResolved
		status    model.Quality
		hasStatus bool
	)
	for i := 0; d.PeekKind() == '{'; i++ {
		r, bad, err := readSenMLRecord(d, &base)
		if err != nil {
			return dst, fmt.Errorf("SenML record %d: %w", i, err)
		}
		if bad != "" {
			fe.add("record %d: %s", i, bad)
			continue
		}
		if !r.hasV && !r.hasVS && r.unsupValue == "" {
			continue // a record with base fields only
		}
		full := base.name + r.name
		if full == "" {
			fe.add("record %d: no name", i)
			continue
		}
		station, param := "", full
		if j := strings.LastIndexAny(full, ":/"); j >= 0 {
			station, param = full[:j], full[j+1:]
		}
		if param == SenMLStatusName {
			st, err := senmlStatus(r)
			if err != nil {
				fe.add("record %d: %v", i, err)
				st = model.QualityDeviceError
			}
			status, hasStatus = st, true
			continue
		}
		if r.unsupValue != "" {
			fe.add("record %d (%s): %s values are not supported", i, excerpt([]byte(full)), r.unsupValue)
			continue
		}
		if r.hasVS {
			fe.add("record %d (%s): string value %s is not a number", i, excerpt([]byte(full)), excerpt([]byte(r.vs)))
			continue
		}
		v := r.v
		if !r.isBool {
			v += base.value
		}
		if !finite(v) {
			fe.add("record %d (%s): value is not finite", i, excerpt([]byte(full)))
			continue
		}
		metric, ok, err := m.metricName(param)
		if err != nil {
			fe.add("record %d: %v", i, err)
			continue
		}
		if !ok {
			continue
		}
		t, q := m.Received, model.QualityGood
		if tt := base.time + r.t; tt != 0 {
			ms, ok := senmlTime(tt, m.Received)
			if ok {
				t = ms
			} else {
				q |= model.QualityBadTime
				fe.add("record %d (%s): bad time %v", i, excerpt([]byte(full)), tt)
			}
		}
		out = append(out, senmlResolved{metric: metric, station: station, t: t, v: v, q: q})
	}
	if _, err := d.ReadToken(); err != nil { // the closing ']'
		return dst, fmt.Errorf("invalid JSON: %w", err)
	}
	if err := checkEOF(d); err != nil {
		return dst, err
	}
	if len(out) == 0 && len(fe) == 0 {
		fe.add("no values in the pack")
	}
	for _, r := range out {
		q := r.q
		if hasStatus {
			q |= status
		}
		dst = appendSample(dst, m, r.metric, r.t, r.v, q, model.LabelStation, r.station)
	}
	return dst, fe.err()
}

// readSenMLRecord reads one record object, updating base with its base
// fields. bad describes a field of the wrong type (the record is skipped);
// err means the pack cannot be read on.
func readSenMLRecord(d *jsontext.Decoder, base *senmlBase) (r senmlRecord, bad string, err error) {
	if _, err := d.ReadToken(); err != nil { // '{'
		return r, "", err
	}
	for d.PeekKind() == '"' {
		nt, err := d.ReadToken()
		if err != nil {
			return r, "", err
		}
		name := nt.String()
		if k := d.PeekKind(); k == '{' || k == '[' {
			if err := d.SkipValue(); err != nil {
				return r, "", err
			}
			bad = fmt.Sprintf("field %q: unexpected %s", name, k)
			continue
		}
		vt, err := d.ReadToken()
		if err != nil {
			return r, "", err
		}
		kind := vt.Kind()
		wrong := func(want string) {
			if bad == "" {
				bad = fmt.Sprintf("field %q: want a %s, got %s", name, want, kind)
			}
		}
		switch name {
		case "bn", "n", "u", "bu", "vs", "vd":
			if kind != '"' {
				wrong("string")
				continue
			}
			s := vt.String()
			switch name {
			case "bn":
				base.name = s
			case "n":
				r.name = s
			case "vs":
				r.vs, r.hasVS = s, true
			case "vd":
				r.unsupValue = "data"
			}
		case "bt", "bv", "bver", "t", "v", "s", "ut", "bs":
			if kind != '0' {
				wrong("number")
				continue
			}
			f := vt.Float()
			switch name {
			case "bt":
				base.time = f
			case "bv":
				base.value = f
			case "t":
				r.t = f
			case "v":
				r.v, r.hasV = f, true
			case "s":
				if r.unsupValue == "" {
					r.unsupValue = "sum"
				}
			}
		case "vb":
			switch kind {
			case 't':
				r.v, r.hasV, r.isBool = 1, true, true
			case 'f':
				r.v, r.hasV, r.isBool = 0, true, true
			default:
				wrong("boolean")
			}
		default:
			if strings.HasSuffix(name, "_") {
				return r, "", fmt.Errorf("must-understand field %q is not supported", name)
			}
		}
	}
	if _, err := d.ReadToken(); err != nil { // '}'
		return r, "", err
	}
	if r.hasV || r.hasVS {
		r.unsupValue = ""
	}
	return r, bad, nil
}

// senmlTime resolves a SenML time (seconds) to ms UTC.
func senmlTime(tt float64, received int64) (int64, bool) {
	if math.IsNaN(tt) || math.IsInf(tt, 0) {
		return 0, false
	}
	var ms float64
	if math.Abs(tt) < senmlRelativeLimit {
		ms = float64(received) + tt*1000
	} else {
		ms = tt * 1000
	}
	ms = math.Round(ms)
	if ms < float64(model.MinTime) || ms >= float64(model.MaxTime) {
		return 0, false
	}
	return int64(ms), true
}

func senmlStatus(r senmlRecord) (model.Quality, error) {
	switch {
	case r.hasVS:
		return model.ParseStatus(r.vs)
	case r.hasV:
		switch r.v {
		case 0, 1, 2:
			return model.Quality(r.v), nil
		}
		return 0, fmt.Errorf("unknown datalogger status %v: want 00, 01 or 02", r.v)
	}
	return 0, fmt.Errorf("status record without a value")
}

package tsdb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/quantrac/quantrac/model"
)

// WAL record payloads (version 1). The first byte is the type:
//
//	series  = 1 | count uvarint | (ref uvarint | nlabels uvarint | (len uvarint name len uvarint value)*)*
//	samples = 2 | count uvarint | (ref uvarint | dt varint | value float64 LE | quality byte)*
//
// dt is the difference to the previous sample's timestamp in the record
// (to 0 for the first), so a batch of one time step costs about 11 bytes a
// sample.
const (
	recSeries  byte = 1
	recSamples byte = 2
)

type walSeries struct {
	ref    uint32
	labels model.Labels
}

type walSample struct {
	ref uint32
	t   int64
	v   float64
	q   model.Quality
}

func appendSeriesRecord(dst []byte, ss []walSeries) []byte {
	dst = append(dst, recSeries)
	dst = binary.AppendUvarint(dst, uint64(len(ss)))
	for _, s := range ss {
		dst = binary.AppendUvarint(dst, uint64(s.ref))
		dst = binary.AppendUvarint(dst, uint64(len(s.labels)))
		for _, l := range s.labels {
			dst = binary.AppendUvarint(dst, uint64(len(l.Name)))
			dst = append(dst, l.Name...)
			dst = binary.AppendUvarint(dst, uint64(len(l.Value)))
			dst = append(dst, l.Value...)
		}
	}
	return dst
}

func appendSamplesHeader(dst []byte, n int) []byte {
	dst = append(dst, recSamples)
	return binary.AppendUvarint(dst, uint64(n))
}

func appendSample(dst []byte, ref uint32, dt int64, v float64, q model.Quality) []byte {
	dst = binary.AppendUvarint(dst, uint64(ref))
	dst = binary.AppendVarint(dst, dt)
	dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(v))
	return append(dst, byte(q))
}

var errShortRecord = errors.New("record too short")

type recDecoder struct {
	b   []byte
	err error
}

func (d *recDecoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errShortRecord
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *recDecoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errShortRecord
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *recDecoder) bytes(n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if uint64(len(d.b)) < n {
		d.err = errShortRecord
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

// decodeSeriesRecord decodes a series record (type byte included).
func decodeSeriesRecord(rec []byte, fn func(ref uint32, ls model.Labels)) error {
	if len(rec) == 0 || rec[0] != recSeries {
		return fmt.Errorf("not a series record")
	}
	d := recDecoder{b: rec[1:]}
	n := d.uvarint()
	for i := uint64(0); i < n && d.err == nil; i++ {
		ref := d.uvarint()
		nl := d.uvarint()
		if nl > uint64(len(d.b)) {
			return fmt.Errorf("series record: %d labels in %d bytes", nl, len(d.b))
		}
		ls := make(model.Labels, 0, nl)
		for j := uint64(0); j < nl && d.err == nil; j++ {
			name := string(d.bytes(d.uvarint()))
			value := string(d.bytes(d.uvarint()))
			ls = append(ls, model.Label{Name: name, Value: value})
		}
		if d.err != nil {
			break
		}
		if ref > math.MaxUint32 {
			return fmt.Errorf("series record: ref %d out of range", ref)
		}
		fn(uint32(ref), ls)
	}
	if d.err != nil {
		return fmt.Errorf("series record: %w", d.err)
	}
	return nil
}

// decodeSamplesRecord decodes a samples record into dst.
func decodeSamplesRecord(dst []walSample, rec []byte) ([]walSample, error) {
	if len(rec) == 0 || rec[0] != recSamples {
		return dst, fmt.Errorf("not a samples record")
	}
	d := recDecoder{b: rec[1:]}
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		return dst, fmt.Errorf("samples record: %d samples in %d bytes", n, len(d.b))
	}
	var t int64
	for i := uint64(0); i < n; i++ {
		ref := d.uvarint()
		t += d.varint()
		vb := d.bytes(9)
		if d.err != nil {
			return dst, fmt.Errorf("samples record: sample %d: %w", i, d.err)
		}
		if ref > math.MaxUint32 {
			return dst, fmt.Errorf("samples record: ref %d out of range", ref)
		}
		dst = append(dst, walSample{ref: uint32(ref), t: t, v: math.Float64frombits(binary.LittleEndian.Uint64(vb)), q: model.Quality(vb[8])})
	}
	return dst, nil
}

package tsdb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/quantrac/quantrac/decbuf"
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

// recDecoder reads the tsdb's binary formats (WAL records, blocks, part
// indexes); data that ends early is errShortRecord.
type recDecoder struct{ decbuf.Decbuf }

func newRecDecoder(b []byte) recDecoder { return recDecoder{decbuf.New(b, errShortRecord)} }

// decodeSeriesRecord decodes a series record (type byte included).
func decodeSeriesRecord(rec []byte, fn func(ref uint32, ls model.Labels)) error {
	if len(rec) == 0 || rec[0] != recSeries {
		return fmt.Errorf("not a series record")
	}
	d := newRecDecoder(rec[1:])
	n := d.Uvarint()
	for i := uint64(0); i < n && d.Err == nil; i++ {
		ref := d.Uvarint()
		nl := d.Uvarint()
		if nl > uint64(len(d.B)) {
			return fmt.Errorf("series record: %d labels in %d bytes", nl, len(d.B))
		}
		ls := make(model.Labels, 0, nl)
		for j := uint64(0); j < nl && d.Err == nil; j++ {
			name := string(d.Bytes(d.Uvarint()))
			value := string(d.Bytes(d.Uvarint()))
			ls = append(ls, model.Label{Name: name, Value: value})
		}
		if d.Err != nil {
			break
		}
		if ref > math.MaxUint32 {
			return fmt.Errorf("series record: ref %d out of range", ref)
		}
		fn(uint32(ref), ls)
	}
	if d.Err != nil {
		return fmt.Errorf("series record: %w", d.Err)
	}
	return nil
}

// decodeSamplesRecord decodes a samples record into dst.
func decodeSamplesRecord(dst []walSample, rec []byte) ([]walSample, error) {
	if len(rec) == 0 || rec[0] != recSamples {
		return dst, fmt.Errorf("not a samples record")
	}
	d := newRecDecoder(rec[1:])
	n := d.Uvarint()
	if n > uint64(len(d.B)) {
		return dst, fmt.Errorf("samples record: %d samples in %d bytes", n, len(d.B))
	}
	var t int64
	for i := uint64(0); i < n; i++ {
		ref := d.Uvarint()
		t += d.Varint()
		vb := d.Bytes(9)
		if d.Err != nil {
			return dst, fmt.Errorf("samples record: sample %d: %w", i, d.Err)
		}
		if ref > math.MaxUint32 {
			return dst, fmt.Errorf("samples record: ref %d out of range", ref)
		}
		dst = append(dst, walSample{ref: uint32(ref), t: t, v: math.Float64frombits(binary.LittleEndian.Uint64(vb)), q: model.Quality(vb[8])})
	}
	return dst, nil
}

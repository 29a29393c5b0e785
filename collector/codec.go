package collector

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/quantrac/quantrac/decbuf"
	"github.com/quantrac/quantrac/model"
)

// A queue block holds one batch:
//
//	byte    version (1)
//	varint  acquired: when the batch was read (poll start or message arrival), unix ms
//	uvarint sample count
//	per sample: uvarint label count, then (uvarint len, bytes) name and value
//	            per label; varint T; 8 bytes float64 bits (little endian); byte Q
const batchVersion = 1

// appendBatch appends the encoding of samples read at acquired (unix ms)
// to dst and returns the result.
func appendBatch(dst []byte, acquired int64, samples []model.Sample) []byte {
	dst = append(dst, batchVersion)
	dst = binary.AppendVarint(dst, acquired)
	dst = binary.AppendUvarint(dst, uint64(len(samples)))
	for i := range samples {
		s := &samples[i]
		dst = binary.AppendUvarint(dst, uint64(len(s.Labels)))
		for _, l := range s.Labels {
			dst = appendString(dst, l.Name)
			dst = appendString(dst, l.Value)
		}
		dst = binary.AppendVarint(dst, s.T)
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(s.V))
		dst = append(dst, byte(s.Q))
	}
	return dst
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

var errShortBatch = errors.New("batch ends early")

// decodeBatch appends the samples of a queue block to dst.
func decodeBatch(dst []model.Sample, data []byte) (acquired int64, _ []model.Sample, err error) {
	if len(data) == 0 || data[0] != batchVersion {
		return 0, dst, fmt.Errorf("decode batch: unknown version (first byte %X)", data[:min(1, len(data))])
	}
	r := decbuf.New(data[1:], errShortBatch)
	acquired = r.Varint()
	n := r.Uvarint()
	if n > uint64(len(data)) {
		return 0, dst, fmt.Errorf("decode batch: %d samples in %d bytes", n, len(data))
	}
	// Strings of one batch share one allocation.
	strs := string(data)
	str := func(l uint64) string {
		start := len(data) - len(r.B)
		r.Bytes(l)
		if r.Err != nil {
			return ""
		}
		return strs[start : start+int(l)]
	}
	for i := uint64(0); i < n && r.Err == nil; i++ {
		nl := r.Uvarint()
		if nl > uint64(len(r.B)) {
			return 0, dst, fmt.Errorf("decode batch: sample %d: %d labels in %d bytes", i, nl, len(r.B))
		}
		ls := make(model.Labels, nl)
		for j := range ls {
			ls[j].Name = str(r.Uvarint())
			ls[j].Value = str(r.Uvarint())
		}
		t := r.Varint()
		v := r.Bytes(8)
		q := r.Bytes(1)
		if r.Err != nil {
			break
		}
		dst = append(dst, model.Sample{Labels: ls, T: t, V: math.Float64frombits(binary.LittleEndian.Uint64(v)), Q: model.Quality(q[0])})
	}
	if r.Err != nil {
		return 0, dst, fmt.Errorf("decode batch: %w", r.Err)
	}
	return acquired, dst, nil
}

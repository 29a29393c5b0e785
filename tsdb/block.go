package tsdb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"

	"github.com/VictoriaMetrics/VictoriaMetrics/lib/decimal"
	"github.com/VictoriaMetrics/VictoriaMetrics/lib/encoding"

	"github.com/quantrac/quantrac/model"
)

// Block format (version 1), one series, up to Options.MaxBlockSamples points
// sorted by time without duplicate timestamps:
//
//	block   = crc (uint32 LE, CRC32C of the rest) | count uvarint | times | values | quality
//	times   = marshal type byte | first varint | len uvarint | bytes   (lib/encoding timestamps)
//	values  = codec byte | codec data
//	          codecDecimal: exponent varint | marshal type byte | first varint | len uvarint | bytes
//	          codecFloatBits: marshal type byte | first varint | len uvarint | bytes (IEEE bits as int64)
//	quality = runs uvarint | (quality byte | run length uvarint)*
const (
	codecDecimal   byte = 1
	codecFloatBits byte = 2

	// maxBlockCount bounds the count a decoder accepts.
	maxBlockCount = 1 << 20
)

// blockEncoder holds scratch buffers reused across blocks.
type blockEncoder struct {
	ts   []int64
	vs   []float64
	ints []int64
	tmp  []byte
}

// appendBlock encodes pts (sorted, distinct T, 1..maxBlockCount points) and
// appends the block to dst.
func (e *blockEncoder) appendBlock(dst []byte, pts []model.Point) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.AppendUvarint(dst, uint64(len(pts)))

	e.ts = e.ts[:0]
	e.vs = e.vs[:0]
	for _, p := range pts {
		e.ts = append(e.ts, p.T)
		e.vs = append(e.vs, p.V)
	}
	e.tmp, dst = appendInts(e.tmp[:0], dst, e.ts)

	// Values: decimal when it round-trips exactly, else raw IEEE bits.
	var exp int16
	e.ints, exp = decimal.AppendFloatToDecimal(e.ints[:0], e.vs)
	exact := true
	for i, v := range e.ints {
		if math.Float64bits(decimal.ToFloat(v, exp)) != math.Float64bits(e.vs[i]) {
			exact = false
			break
		}
	}
	if exact {
		dst = append(dst, codecDecimal)
		dst = binary.AppendVarint(dst, int64(exp))
	} else {
		dst = append(dst, codecFloatBits)
		e.ints = e.ints[:0]
		for _, v := range e.vs {
			e.ints = append(e.ints, int64(math.Float64bits(v)))
		}
	}
	e.tmp, dst = appendInts(e.tmp[:0], dst, e.ints)

	// Quality as run lengths.
	runsAt := len(dst)
	_ = runsAt
	var runs uint64
	for i := 0; i < len(pts); {
		j := i + 1
		for j < len(pts) && pts[j].Q == pts[i].Q {
			j++
		}
		runs++
		i = j
	}
	dst = binary.AppendUvarint(dst, runs)
	for i := 0; i < len(pts); {
		j := i + 1
		for j < len(pts) && pts[j].Q == pts[i].Q {
			j++
		}
		dst = append(dst, byte(pts[i].Q))
		dst = binary.AppendUvarint(dst, uint64(j-i))
		i = j
	}
	binary.LittleEndian.PutUint32(dst[start:], crc32.Checksum(dst[start+4:], castagnoli))
	return dst
}

// appendInts writes one lib/encoding int64 column.
func appendInts(tmp, dst []byte, a []int64) ([]byte, []byte) {
	tmp, mt, first := encoding.MarshalValues(tmp, a, 64)
	dst = append(dst, byte(mt))
	dst = binary.AppendVarint(dst, first)
	dst = binary.AppendUvarint(dst, uint64(len(tmp)))
	dst = append(dst, tmp...)
	return tmp, dst
}

// blockDecoder decodes blocks, reusing buffers.
type blockDecoder struct {
	ts   []int64
	ints []int64
	vs   []float64
}

var errBadBlock = errors.New("malformed block")

// decodeBlock decodes a block and appends its points to dst. It returns an
// error, never panics, on damaged input.
func (d *blockDecoder) decodeBlock(dst []model.Point, b []byte) (out []model.Point, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = dst, fmt.Errorf("decode block: %w: %v", errBadBlock, r)
		}
	}()
	if len(b) < 5 {
		return dst, fmt.Errorf("decode block: %w: %d bytes", errBadBlock, len(b))
	}
	if crc32.Checksum(b[4:], castagnoli) != binary.LittleEndian.Uint32(b) {
		return dst, fmt.Errorf("decode block: %w: checksum mismatch", errBadBlock)
	}
	rd := recDecoder{b: b[4:]}
	n := rd.uvarint()
	if rd.err != nil || n == 0 || n > maxBlockCount {
		return dst, fmt.Errorf("decode block: %w: count %d", errBadBlock, n)
	}
	cnt := int(n)
	d.ts, err = readInts(&rd, d.ts[:0], cnt)
	if err != nil {
		return dst, fmt.Errorf("decode block timestamps: %w", err)
	}
	codec := rd.bytes(1)
	if rd.err != nil {
		return dst, fmt.Errorf("decode block: %w: no value codec", errBadBlock)
	}
	var exp int64
	switch codec[0] {
	case codecDecimal:
		exp = rd.varint()
		if rd.err != nil || exp < math.MinInt16 || exp > math.MaxInt16 {
			return dst, fmt.Errorf("decode block: %w: exponent", errBadBlock)
		}
	case codecFloatBits:
	default:
		return dst, fmt.Errorf("decode block: %w: unknown value codec %d", errBadBlock, codec[0])
	}
	d.ints, err = readInts(&rd, d.ints[:0], cnt)
	if err != nil {
		return dst, fmt.Errorf("decode block values: %w", err)
	}
	runs := rd.uvarint()
	if rd.err != nil || runs > uint64(cnt) {
		return dst, fmt.Errorf("decode block: %w: %d quality runs", errBadBlock, runs)
	}
	base := len(dst)
	for i := 0; i < cnt; i++ {
		var v float64
		if codec[0] == codecDecimal {
			v = decimal.ToFloat(d.ints[i], int16(exp))
		} else {
			v = math.Float64frombits(uint64(d.ints[i]))
		}
		if i > 0 && d.ts[i] <= d.ts[i-1] {
			return dst[:base], fmt.Errorf("decode block: %w: timestamps not increasing", errBadBlock)
		}
		dst = append(dst, model.Point{T: d.ts[i], V: v})
	}
	pos := base
	for r := uint64(0); r < runs; r++ {
		qb := rd.bytes(1)
		l := rd.uvarint()
		if rd.err != nil || l > uint64(len(dst)-pos) {
			return dst[:base], fmt.Errorf("decode block: %w: quality run", errBadBlock)
		}
		for k := 0; k < int(l); k++ {
			dst[pos].Q = model.Quality(qb[0])
			pos++
		}
	}
	if pos != len(dst) {
		return dst[:base], fmt.Errorf("decode block: %w: quality runs cover %d of %d points", errBadBlock, pos-base, cnt)
	}
	return dst, nil
}

func readInts(rd *recDecoder, dst []int64, cnt int) ([]int64, error) {
	mt := rd.bytes(1)
	first := rd.varint()
	l := rd.uvarint()
	data := rd.bytes(l)
	if rd.err != nil {
		return dst, fmt.Errorf("%w: truncated column", errBadBlock)
	}
	m := encoding.MarshalType(mt[0])
	if err := encoding.CheckMarshalType(m); err != nil {
		return dst, fmt.Errorf("%w: %v", errBadBlock, err)
	}
	out, err := encoding.UnmarshalValues(dst, data, m, first, cnt)
	if err != nil {
		return dst, fmt.Errorf("%w: %v", errBadBlock, err)
	}
	if len(out) != cnt {
		return dst, fmt.Errorf("%w: column has %d of %d items", errBadBlock, len(out), cnt)
	}
	return out, nil
}

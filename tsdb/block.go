package tsdb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/VictoriaMetrics/VictoriaMetrics/lib/decimal"
	"github.com/VictoriaMetrics/VictoriaMetrics/lib/encoding"

	"github.com/quantrac/quantrac/model"
)

// Block format (version 1): the points of one series, sorted by time with
// distinct timestamps, uncompressed; blocks are compressed together in
// frames (see part.go). Integers are lib/encoding zig-zag varints.
//
//	block   = count uvarint | times | values | quality
//	times   = tsDelta: first varint | delta varint                  (regular sampling)
//	        | tsDoD:   first varint | delta varint | delta-of-delta varint * (count-2)
//	values  = valConst:   IEEE bits uint64 LE                        (one value repeated)
//	        | valDecimal1: exponent varint | first varint | delta varint * (count-1)
//	        | valDecimal2: exponent varint | first varint | delta varint | delta-of-delta varint * (count-2)
//	        | valXOR:      (IEEE bits XOR previous bits) uint64 BE * count
//	quality = runs uvarint | (quality byte | run length uvarint) * runs
//
// Values go through lib/decimal (mantissa and common exponent) when that
// round-trips exactly; the encoder tries the decimal codecs and keeps the
// smaller.
const (
	tsDelta byte = 1
	tsDoD   byte = 2

	valConst    byte = 1
	valDecimal1 byte = 2
	valDecimal2 byte = 3
	valXOR      byte = 4

	// maxBlockCount bounds the count a decoder accepts.
	maxBlockCount = 1 << 20
)

var errBadBlock = errors.New("malformed block")

// blockEncoder holds scratch buffers reused across blocks.
type blockEncoder struct {
	vs   []float64
	ints []int64
	d    []int64
}

// appendBlock encodes pts (sorted, distinct T, 1..maxBlockCount points) and
// appends the block to dst.
func (e *blockEncoder) appendBlock(dst []byte, pts []model.Point) []byte {
	n := len(pts)
	dst = binary.AppendUvarint(dst, uint64(n))

	// Timestamps.
	regular := true
	for i := 2; i < n; i++ {
		if pts[i].T-pts[i-1].T != pts[1].T-pts[0].T {
			regular = false
			break
		}
	}
	if regular {
		dst = append(dst, tsDelta)
		dst = encoding.MarshalVarInt64(dst, pts[0].T)
		var d int64
		if n > 1 {
			d = pts[1].T - pts[0].T
		}
		dst = encoding.MarshalVarInt64(dst, d)
	} else {
		dst = append(dst, tsDoD)
		dst = encoding.MarshalVarInt64(dst, pts[0].T)
		dst = encoding.MarshalVarInt64(dst, pts[1].T-pts[0].T)
		e.d = e.d[:0]
		for i := 2; i < n; i++ {
			e.d = append(e.d, (pts[i].T-pts[i-1].T)-(pts[i-1].T-pts[i-2].T))
		}
		dst = encoding.MarshalVarInt64s(dst, e.d)
	}

	// Values.
	e.vs = e.vs[:0]
	same := true
	b0 := math.Float64bits(pts[0].V)
	for _, p := range pts {
		e.vs = append(e.vs, p.V)
		if math.Float64bits(p.V) != b0 {
			same = false
		}
	}
	switch {
	case same:
		dst = append(dst, valConst)
		dst = binary.LittleEndian.AppendUint64(dst, b0)
	default:
		var exp int16
		var exact bool
		e.ints, exp, exact = appendExactDecimals(e.ints[:0], e.vs)
		if !exact {
			dst = append(dst, valXOR)
			prev := uint64(0)
			for _, v := range e.vs {
				b := math.Float64bits(v)
				dst = binary.BigEndian.AppendUint64(dst, b^prev)
				prev = b
			}
			break
		}
		// Try first and second differences; keep the shorter.
		var s1, s2 int
		for i := 1; i < n; i++ {
			s1 += varintLen(e.ints[i] - e.ints[i-1])
			if i >= 2 {
				s2 += varintLen((e.ints[i] - e.ints[i-1]) - (e.ints[i-1] - e.ints[i-2]))
			}
		}
		if n > 2 && s2 < s1 {
			dst = append(dst, valDecimal2)
			dst = encoding.MarshalVarInt64(dst, int64(exp))
			dst = encoding.MarshalVarInt64(dst, e.ints[0])
			dst = encoding.MarshalVarInt64(dst, e.ints[1]-e.ints[0])
			e.d = e.d[:0]
			for i := 2; i < n; i++ {
				e.d = append(e.d, (e.ints[i]-e.ints[i-1])-(e.ints[i-1]-e.ints[i-2]))
			}
		} else {
			dst = append(dst, valDecimal1)
			dst = encoding.MarshalVarInt64(dst, int64(exp))
			dst = encoding.MarshalVarInt64(dst, e.ints[0])
			e.d = e.d[:0]
			for i := 1; i < n; i++ {
				e.d = append(e.d, e.ints[i]-e.ints[i-1])
			}
		}
		dst = encoding.MarshalVarInt64s(dst, e.d)
	}

	// Quality as run lengths.
	var runs uint64
	for i := 0; i < n; i++ {
		if i == 0 || pts[i].Q != pts[i-1].Q {
			runs++
		}
	}
	dst = binary.AppendUvarint(dst, runs)
	for i := 0; i < n; {
		j := i + 1
		for j < n && pts[j].Q == pts[i].Q {
			j++
		}
		dst = append(dst, byte(pts[i].Q))
		dst = binary.AppendUvarint(dst, uint64(j-i))
		i = j
	}
	return dst
}

func varintLen(v int64) int {
	u := uint64((v << 1) ^ (v >> 63))
	n := 1
	for u >= 0x80 {
		u >>= 7
		n++
	}
	return n
}

// blockDecoder decodes blocks, reusing buffers, and caches decompressed
// frames (a query walks series in label order, so the frames of one metric
// are reused by every series of that metric).
type blockDecoder struct {
	d []int64

	frames     map[frameKey][]byte
	frameOrder []frameKey
	frameBytes int
}

type frameKey struct {
	p      *part
	i      uint32
	rollup bool
}

// maxFrameCache bounds the decompressed bytes a decoder keeps.
const maxFrameCache = 32 << 20

func (d *blockDecoder) resetFrames() {
	clear(d.frames)
	d.frameOrder = d.frameOrder[:0]
	d.frameBytes = 0
}

func (d *blockDecoder) ints(rd *recDecoder, n int) []int64 {
	if rd.Err != nil {
		return nil
	}
	if n > len(rd.B) {
		// Every value takes at least one byte.
		rd.Fail()
		return nil
	}
	if cap(d.d) < n {
		d.d = make([]int64, n)
	}
	d.d = d.d[:n]
	tail, err := encoding.UnmarshalVarInt64s(d.d, rd.B)
	if err != nil {
		rd.Err = err
		return nil
	}
	rd.B = tail
	return d.d
}

func (rd *recDecoder) zvarint() int64 {
	if rd.Err != nil {
		return 0
	}
	v, n := encoding.UnmarshalVarInt64(rd.B)
	if n <= 0 {
		rd.Fail()
		return 0
	}
	rd.B = rd.B[n:]
	return v
}

// appendExactDecimals appends vs to dst as decimal mantissas sharing one
// exponent (lib/decimal) and reports whether every value converts back bit
// for bit, the condition for the integer codecs.
func appendExactDecimals(dst []int64, vs []float64) ([]int64, int16, bool) {
	base := len(dst)
	dst, exp := decimal.AppendFloatToDecimal(dst, vs)
	for i, v := range dst[base:] {
		if math.Float64bits(decimal.ToFloat(v, exp)) != math.Float64bits(vs[i]) {
			return dst, exp, false
		}
	}
	return dst, exp, true
}

// decodeBlock decodes one block from b and appends its points to dst. It
// returns the unread tail of b. It returns an error, never panics, on
// damaged input.
func (d *blockDecoder) decodeBlock(dst []model.Point, b []byte) (out []model.Point, tail []byte, err error) {
	base := len(dst)
	defer func() {
		if r := recover(); r != nil {
			out, tail, err = dst[:base], nil, fmt.Errorf("decode block: %w: %v", errBadBlock, r)
		}
	}()
	bad := func(what string) ([]model.Point, []byte, error) {
		return dst[:base], nil, fmt.Errorf("decode block: %w: %s", errBadBlock, what)
	}
	rd := newRecDecoder(b)
	un := rd.Uvarint()
	if rd.Err != nil || un == 0 || un > maxBlockCount {
		return bad(fmt.Sprintf("count %d", un))
	}
	n := int(un)
	// Timestamps.
	kind := rd.Bytes(1)
	if rd.Err != nil {
		return bad("no timestamp kind")
	}
	t := rd.zvarint()
	delta := rd.zvarint()
	if rd.Err != nil {
		return bad("truncated timestamps")
	}
	if t < model.MinTime || t >= model.MaxTime {
		return bad("first timestamp out of range")
	}
	switch kind[0] {
	case tsDelta:
		if n > 1 && (delta <= 0 || delta >= model.MaxTime) {
			return bad("timestamps not increasing")
		}
		for i := 0; i < n; i++ {
			if t >= model.MaxTime {
				return bad("timestamp out of range")
			}
			dst = append(dst, model.Point{T: t})
			t += delta
		}
	case tsDoD:
		if n < 2 {
			return bad("delta-of-delta block with one point")
		}
		dod := d.ints(&rd, n-2)
		if rd.Err != nil {
			return bad("truncated timestamps")
		}
		dst = append(dst, model.Point{T: t})
		for i := 1; i < n; i++ {
			if i >= 2 {
				delta += dod[i-2]
			}
			if delta <= 0 || delta >= model.MaxTime {
				return bad("timestamps not increasing")
			}
			t += delta
			if t >= model.MaxTime {
				return bad("timestamp out of range")
			}
			dst = append(dst, model.Point{T: t})
		}
	default:
		return bad(fmt.Sprintf("timestamp kind %d", kind[0]))
	}
	pts := dst[base:]
	// Values.
	codec := rd.Bytes(1)
	if rd.Err != nil {
		return bad("no value codec")
	}
	switch codec[0] {
	case valConst:
		vb := rd.Bytes(8)
		if rd.Err != nil {
			return bad("truncated values")
		}
		v := math.Float64frombits(binary.LittleEndian.Uint64(vb))
		for i := range pts {
			pts[i].V = v
		}
	case valDecimal1, valDecimal2:
		exp := rd.zvarint()
		m := rd.zvarint()
		if rd.Err != nil || exp < math.MinInt16 || exp > math.MaxInt16 {
			return bad("decimal header")
		}
		e16 := int16(exp)
		pts[0].V = decimal.ToFloat(m, e16)
		if codec[0] == valDecimal1 {
			ds := d.ints(&rd, n-1)
			if rd.Err != nil {
				return bad("truncated values")
			}
			for i := 1; i < n; i++ {
				m += ds[i-1]
				pts[i].V = decimal.ToFloat(m, e16)
			}
		} else {
			if n < 2 {
				return bad("second-difference block with one point")
			}
			dd := rd.zvarint()
			ds := d.ints(&rd, n-2)
			if rd.Err != nil {
				return bad("truncated values")
			}
			for i := 1; i < n; i++ {
				if i >= 2 {
					dd += ds[i-2]
				}
				m += dd
				pts[i].V = decimal.ToFloat(m, e16)
			}
		}
	case valXOR:
		vb := rd.Bytes(uint64(n) * 8)
		if rd.Err != nil {
			return bad("truncated values")
		}
		prev := uint64(0)
		for i := range pts {
			prev ^= binary.BigEndian.Uint64(vb[i*8:])
			pts[i].V = math.Float64frombits(prev)
		}
	default:
		return bad(fmt.Sprintf("value codec %d", codec[0]))
	}
	// Quality.
	runs := rd.Uvarint()
	if rd.Err != nil || runs > uint64(n) {
		return bad("quality runs")
	}
	pos := 0
	for r := uint64(0); r < runs; r++ {
		qb := rd.Bytes(1)
		l := rd.Uvarint()
		if rd.Err != nil || l > uint64(n-pos) {
			return bad("quality run")
		}
		q := model.Quality(qb[0])
		for k := 0; k < int(l); k++ {
			pts[pos].Q = q
			pos++
		}
	}
	if pos != n {
		return bad("quality runs do not cover the block")
	}
	return dst, rd.B, nil
}

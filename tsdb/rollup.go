package tsdb

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"time"

	"github.com/VictoriaMetrics/VictoriaMetrics/lib/decimal"
	"github.com/VictoriaMetrics/VictoriaMetrics/lib/encoding"

	"github.com/quantrac/quantrac/model"
)

// Rollups (stored in the part's rollup frames), per level
// (hourly in UTC, then daily in Options.RollupLocation), computed over the
// good samples of the series in the part:
//
//	level   = present byte | [ rows uvarint | keys column | counts column | kind byte | 5 value columns ]
//	kind    = 1: decimal mantissas with exponent varint, sums exact; 2: IEEE bits
//	columns = sum, min, max, first, last; each zig-zag varints of first differences
//
// A level is stored only when it is at least twice as small as the raw
// samples (an hourly series keeps daily rows, not hourly ones).
const (
	rollupDecimal  byte = 1
	rollupFloatBit byte = 2
	hourMs              = int64(time.Hour / time.Millisecond)
)

// rollupRows holds one level of rollups of one series in one part.
type rollupRows struct {
	keys                       []int64 // period start, UTC ms
	count                      []int64
	sum, min, max, first, last []float64
}

func (r *rollupRows) agg(i int) agg {
	return agg{count: r.count[i], sum: r.sum[i], min: r.min[i], max: r.max[i], first: r.first[i], last: r.last[i], firstT: r.keys[i], lastT: r.keys[i]}
}

// rollupBuilder computes and encodes rollups, reusing buffers.
type rollupBuilder struct {
	good  []float64
	goodT []int64
	ints  []int64
	cols  [7][]int64
	tmp   []byte
	b     *bucketer
	bloc  *time.Location
}

func (rb *rollupBuilder) appendRollups(dst []byte, pts []model.Point, loc *time.Location) []byte {
	rb.good, rb.goodT = rb.good[:0], rb.goodT[:0]
	for _, p := range pts {
		if p.Q.Good() {
			rb.good = append(rb.good, p.V)
			rb.goodT = append(rb.goodT, p.T)
		}
	}
	if rb.b == nil || rb.bloc != loc {
		rb.b, rb.bloc = newBucketer(loc, 24*time.Hour), loc
	}
	dst = rb.appendLevel(dst, func(t int64) int64 { return floorDiv(t, hourMs) * hourMs })
	return rb.appendLevel(dst, rb.b.start)
}

func (rb *rollupBuilder) appendLevel(dst []byte, key func(int64) int64) []byte {
	n := len(rb.good)
	rows := 0
	prev := int64(math.MinInt64)
	for _, t := range rb.goodT {
		if k := key(t); k != prev {
			rows++
			prev = k
		}
	}
	if n == 0 || n < 2*rows {
		return append(dst, 0)
	}
	dst = append(dst, 1)
	dst = binary.AppendUvarint(dst, uint64(rows))
	var exp int16
	var exact bool
	rb.ints, exp, exact = appendExactDecimals(rb.ints[:0], rb.good)
	for i := range rb.cols {
		rb.cols[i] = rb.cols[i][:0]
	}
	// cols: 0 keys, 1 count, 2 sum, 3 min, 4 max, 5 first, 6 last
	var a agg
	overflow := false
	var isum int64
	imin, imax := int64(math.MaxInt64), int64(math.MinInt64)
	var ifirst, ilast int64
	var cnt int64
	cur := int64(math.MinInt64)
	flush := func() {
		if cnt == 0 {
			return
		}
		rb.cols[0] = append(rb.cols[0], cur)
		rb.cols[1] = append(rb.cols[1], cnt)
		if exact {
			rb.cols[2] = append(rb.cols[2], isum)
			rb.cols[3] = append(rb.cols[3], imin)
			rb.cols[4] = append(rb.cols[4], imax)
			rb.cols[5] = append(rb.cols[5], ifirst)
			rb.cols[6] = append(rb.cols[6], ilast)
		} else {
			rb.appendFloatCols(&a)
		}
	}
	for i, t := range rb.goodT {
		k := key(t)
		if k != cur || cnt == 0 {
			flush()
			cur, cnt = k, 0
			a.reset()
			isum, imin, imax = 0, math.MaxInt64, math.MinInt64
		}
		if exact {
			v := rb.ints[i]
			s, c := bits.Add64(uint64(isum), uint64(v), 0)
			_ = c
			ns := int64(s)
			if (v > 0 && ns < isum) || (v < 0 && ns > isum) {
				overflow = true
			}
			isum = ns
			if v < imin {
				imin = v
			}
			if v > imax {
				imax = v
			}
			if cnt == 0 {
				ifirst = v
			}
			ilast = v
		}
		a.add(t, rb.good[i])
		cnt++
	}
	flush()
	if exact && overflow {
		// Sums do not fit: store floats instead.
		exact = false
		return rb.appendLevelFloat(dst[:len(dst)-1-uvarintLen(uint64(rows))], key)
	}
	for i := 0; i < 2; i++ {
		rb.tmp, dst = appendInts(rb.tmp[:0], dst, rb.cols[i])
	}
	if exact {
		dst = append(dst, rollupDecimal)
		dst = binary.AppendVarint(dst, int64(exp))
	} else {
		dst = append(dst, rollupFloatBit)
	}
	for i := 2; i < 7; i++ {
		rb.tmp, dst = appendInts(rb.tmp[:0], dst, rb.cols[i])
	}
	return dst
}

// appendFloatCols appends sum, min, max, first and last of a as float bits
// to columns 2 to 6.
func (rb *rollupBuilder) appendFloatCols(a *agg) {
	for i, v := range [5]float64{a.sum, a.min, a.max, a.first, a.last} {
		rb.cols[2+i] = append(rb.cols[2+i], int64(math.Float64bits(v)))
	}
}

// appendLevelFloat encodes a level with float columns (sums too large for int64).
func (rb *rollupBuilder) appendLevelFloat(dst []byte, key func(int64) int64) []byte {
	for i := range rb.cols {
		rb.cols[i] = rb.cols[i][:0]
	}
	var a agg
	a.reset()
	cur := int64(math.MinInt64)
	flush := func() {
		if a.count == 0 {
			return
		}
		rb.cols[0] = append(rb.cols[0], cur)
		rb.cols[1] = append(rb.cols[1], a.count)
		rb.appendFloatCols(&a)
	}
	for i, t := range rb.goodT {
		if k := key(t); k != cur || a.count == 0 {
			flush()
			cur = k
			a.reset()
		}
		a.add(t, rb.good[i])
	}
	flush()
	dst = append(dst, 1)
	dst = binary.AppendUvarint(dst, uint64(len(rb.cols[0])))
	for i := 0; i < 2; i++ {
		rb.tmp, dst = appendInts(rb.tmp[:0], dst, rb.cols[i])
	}
	dst = append(dst, rollupFloatBit)
	for i := 2; i < 7; i++ {
		rb.tmp, dst = appendInts(rb.tmp[:0], dst, rb.cols[i])
	}
	return dst
}

func uvarintLen(v uint64) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutUvarint(b[:], v)
}

// decodeRollups decodes both levels of a series' rollups.
func decodeRollups(b []byte) (hourly, daily *rollupRows, err error) {
	defer func() {
		if r := recover(); r != nil {
			hourly, daily, err = nil, nil, fmt.Errorf("%w: %v", errBadBlock, r)
		}
	}()
	rd := newRecDecoder(b)
	if hourly, err = readRollupLevel(&rd); err != nil {
		return nil, nil, fmt.Errorf("hourly: %w", err)
	}
	if daily, err = readRollupLevel(&rd); err != nil {
		return nil, nil, fmt.Errorf("daily: %w", err)
	}
	return hourly, daily, nil
}

func readRollupLevel(rd *recDecoder) (*rollupRows, error) {
	pb := rd.Bytes(1)
	if rd.Err != nil {
		return nil, rd.Err
	}
	if pb[0] == 0 {
		return nil, nil
	}
	n := rd.Uvarint()
	if rd.Err != nil || n == 0 || n > maxBlockCount*16 {
		return nil, fmt.Errorf("%w: %d rows", errBadBlock, n)
	}
	cnt := int(n)
	r := &rollupRows{}
	var err error
	if r.keys, err = readInts(rd, nil, cnt); err != nil {
		return nil, err
	}
	if r.count, err = readInts(rd, nil, cnt); err != nil {
		return nil, err
	}
	kind := rd.Bytes(1)
	if rd.Err != nil {
		return nil, rd.Err
	}
	var exp int64
	switch kind[0] {
	case rollupDecimal:
		exp = rd.Varint()
		if rd.Err != nil || exp < math.MinInt16 || exp > math.MaxInt16 {
			return nil, fmt.Errorf("%w: exponent", errBadBlock)
		}
	case rollupFloatBit:
	default:
		return nil, fmt.Errorf("%w: rollup kind %d", errBadBlock, kind[0])
	}
	cols := [5]*[]float64{&r.sum, &r.min, &r.max, &r.first, &r.last}
	var ints []int64
	for _, c := range cols {
		if ints, err = readInts(rd, ints[:0], cnt); err != nil {
			return nil, err
		}
		out := make([]float64, cnt)
		for i, v := range ints {
			if kind[0] == rollupDecimal {
				out[i] = decimal.ToFloat(v, int16(exp))
			} else {
				out[i] = math.Float64frombits(uint64(v))
			}
		}
		*c = out
	}
	return r, nil
}

// appendInts writes an int64 column as lib/encoding zig-zag varints of
// first differences (the part index is zstd-compressed as a whole).
func appendInts(tmp, dst []byte, a []int64) ([]byte, []byte) {
	prev := int64(0)
	for _, v := range a {
		dst = encoding.MarshalVarInt64(dst, v-prev)
		prev = v
	}
	return tmp, dst
}

// readInts reads a column written by appendInts.
func readInts(rd *recDecoder, dst []int64, cnt int) ([]int64, error) {
	if cnt > len(rd.B) {
		// Every value takes at least one byte.
		return nil, fmt.Errorf("%w: %d values in %d bytes", errBadBlock, cnt, len(rd.B))
	}
	if cap(dst) < cnt {
		dst = make([]int64, cnt)
	}
	dst = dst[:cnt]
	tail, err := encoding.UnmarshalVarInt64s(dst, rd.B)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errBadBlock, err)
	}
	rd.B = tail
	for i := 1; i < cnt; i++ {
		dst[i] += dst[i-1]
	}
	return dst, nil
}

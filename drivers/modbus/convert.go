package modbus

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Protocol limits per request (Modbus application protocol v1.1b3).
const (
	maxRegisters = 125  // registers per read of holding or input registers
	maxBits      = 2000 // bits per read of coils or discrete inputs
)

// Decode turns the raw registers of r into its value: raw*scale + offset.
// words holds Count() registers as read (for coils and discrete inputs one
// element per bit, non-zero meaning on). A NaN or infinite result, a string
// that is not a number or a wrong number of words is an error; Decode never
// panics on any input.
func (r *Register) Decode(words []uint16) (float64, error) {
	raw, err := r.decodeRaw(words)
	if err != nil {
		return 0, err
	}
	v := r.apply(raw)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%s: value %v is not a finite number", r.where(), v)
	}
	return v, nil
}

// where names the register in errors: "ph (holding 40007)".
func (r *Register) where() string {
	return fmt.Sprintf("%s (%s %05d)", r.Metric, r.Type, Reference(r.Type, r.Address))
}

// apply turns a raw value into the reading: raw*scale + offset, without the
// binary noise a decimal scale leaves (1234 * 0.01 is 12.34, not
// 12.340000000000002), so stored values compress as the decimals they are.
func (r *Register) apply(raw float64) float64 {
	if r.Offset == 0 && (r.Scale == nil || *r.Scale == 1) {
		return raw
	}
	if r.pow10 > 0 && r.Offset == 0 {
		return raw / r.pow10 // correctly rounded: the nearest float64 to the decimal
	}
	return tidy(raw*r.scale() + r.Offset)
}

// tidy rounds v to 15 significant digits, which removes the error of one
// multiplication or addition and keeps every digit a sensor reports.
func tidy(v float64) float64 {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return v
	}
	t, err := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 15, 64), 64)
	if err != nil {
		return v
	}
	return t
}

// shortest32 widens f to the float64 of its shortest decimal form: the
// datalogger meant 7.12, not 7.119999885559082. The result converts back to
// the same float32, so Encode writes the same registers.
func shortest32(f float32) float64 {
	if f != f || math.IsInf(float64(f), 0) {
		return float64(f)
	}
	v, err := strconv.ParseFloat(strconv.FormatFloat(float64(f), 'g', -1, 32), 64)
	if err != nil {
		return float64(f)
	}
	return v
}

// powerOfTen returns 10^k when scale is 10^-k (k = 1..15), else 0.
func powerOfTen(scale float64) float64 {
	p := 1.0
	for k := 1; k <= 15; k++ {
		p *= 10
		if math.Abs(scale*p-1) < 1e-12 {
			return p
		}
	}
	return 0
}

// decodeRaw returns the value before scale and offset.
func (r *Register) decodeRaw(words []uint16) (float64, error) {
	if len(words) != r.Count() {
		return 0, fmt.Errorf("%s: got %d registers, want %d", r.where(), len(words), r.Count())
	}
	if r.Type.IsBit() {
		if words[0] != 0 {
			return 1, nil
		}
		return 0, nil
	}
	switch r.DataType {
	case Bit:
		var b [2]byte
		toCanonical(b[:], words, r.ByteOrder)
		return float64(binary.BigEndian.Uint16(b[:]) >> uint(r.Bit) & 1), nil
	case String:
		return r.decodeString(words)
	}
	var buf [8]byte
	b := buf[:2*len(words)]
	toCanonical(b, words, r.ByteOrder)
	switch r.DataType {
	case Int16:
		return float64(int16(binary.BigEndian.Uint16(b))), nil
	case Uint16:
		return float64(binary.BigEndian.Uint16(b)), nil
	case Int32:
		return float64(int32(binary.BigEndian.Uint32(b))), nil
	case Uint32:
		return float64(binary.BigEndian.Uint32(b)), nil
	case Int64:
		return float64(int64(binary.BigEndian.Uint64(b))), nil
	case Uint64:
		return float64(binary.BigEndian.Uint64(b)), nil
	case Float32:
		return shortest32(math.Float32frombits(binary.BigEndian.Uint32(b))), nil
	case Float64:
		return math.Float64frombits(binary.BigEndian.Uint64(b)), nil
	}
	return 0, fmt.Errorf("%s: unknown data type %q", r.Metric, r.DataType)
}

// decodeString reads ASCII digits. ABCD and CDAB put the first character in
// the high byte of each register, BADC and DCBA in the low byte; registers
// are always in address order.
func (r *Register) decodeString(words []uint16) (float64, error) {
	b := make([]byte, 2*len(words))
	stringBytes(b, words, r.ByteOrder)
	s := strings.TrimRight(string(b), "\x00 ")
	s = strings.TrimLeft(s, " ")
	if s == "" {
		return 0, fmt.Errorf("%s: empty string", r.where())
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: string %q is not a number", r.where(), s)
	}
	return v, nil
}

// Encode is the inverse of Decode: it returns the Count() raw registers
// (for coils and discrete inputs one element, 0 or 1) that decode to v.
// Integer types round (v-offset)/scale to the nearest integer and reject
// values outside the type's range; a string that does not fit is an error.
func (r *Register) Encode(v float64) ([]uint16, error) {
	words := make([]uint16, r.Count())
	if err := r.EncodeTo(words, v); err != nil {
		return nil, err
	}
	return words, nil
}

// EncodeTo is Encode into words, which must hold Count() registers. For data
// type bit on a register only that bit changes, so several bit values can
// share one register.
func (r *Register) EncodeTo(words []uint16, v float64) error {
	if len(words) != r.Count() {
		return fmt.Errorf("%s: got %d registers to encode into, want %d", r.where(), len(words), r.Count())
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("%s: cannot encode %v", r.Metric, v)
	}
	raw := (v - r.Offset) / r.scale()
	if r.pow10 > 0 {
		raw = (v - r.Offset) * r.pow10
	}
	if math.IsNaN(raw) || math.IsInf(raw, 0) {
		return fmt.Errorf("%s: cannot encode %v: raw value %v", r.Metric, v, raw)
	}
	if r.Type.IsBit() {
		words[0] = 0
		if math.Round(raw) != 0 {
			words[0] = 1
		}
		return nil
	}
	var buf [8]byte
	b := buf[:2*r.DataType.words()]
	outOfRange := func(lo, hi float64) error {
		return fmt.Errorf("%s: %v gives raw %v outside %s range [%v, %v]", r.Metric, v, raw, r.DataType, lo, hi)
	}
	switch r.DataType {
	case Bit:
		var cur [2]byte
		toCanonical(cur[:], words, r.ByteOrder)
		w := binary.BigEndian.Uint16(cur[:])
		if math.Round(raw) != 0 {
			w |= 1 << uint(r.Bit)
		} else {
			w &^= 1 << uint(r.Bit)
		}
		binary.BigEndian.PutUint16(b, w)
	case String:
		return r.encodeString(words, v, raw)
	case Int16:
		x := math.Round(raw)
		if x < math.MinInt16 || x > math.MaxInt16 {
			return outOfRange(math.MinInt16, math.MaxInt16)
		}
		binary.BigEndian.PutUint16(b, uint16(int16(x)))
	case Uint16:
		x := math.Round(raw)
		if x < 0 || x > math.MaxUint16 {
			return outOfRange(0, math.MaxUint16)
		}
		binary.BigEndian.PutUint16(b, uint16(x))
	case Int32:
		x := math.Round(raw)
		if x < math.MinInt32 || x > math.MaxInt32 {
			return outOfRange(math.MinInt32, math.MaxInt32)
		}
		binary.BigEndian.PutUint32(b, uint32(int32(x)))
	case Uint32:
		x := math.Round(raw)
		if x < 0 || x > math.MaxUint32 {
			return outOfRange(0, math.MaxUint32)
		}
		binary.BigEndian.PutUint32(b, uint32(x))
	case Int64:
		x := math.Round(raw)
		if x < -(1<<63) || x >= 1<<63 {
			return outOfRange(math.MinInt64, math.MaxInt64)
		}
		binary.BigEndian.PutUint64(b, uint64(int64(x)))
	case Uint64:
		x := math.Round(raw)
		if x < 0 || x >= 1<<64 {
			return outOfRange(0, math.MaxUint64)
		}
		binary.BigEndian.PutUint64(b, uint64(x))
	case Float32:
		if math.Abs(raw) > math.MaxFloat32 {
			return outOfRange(-math.MaxFloat32, math.MaxFloat32)
		}
		binary.BigEndian.PutUint32(b, math.Float32bits(float32(raw)))
	case Float64:
		binary.BigEndian.PutUint64(b, math.Float64bits(raw))
	default:
		return fmt.Errorf("%s: unknown data type %q", r.Metric, r.DataType)
	}
	fromCanonical(words, b, r.ByteOrder)
	return nil
}

func (r *Register) encodeString(words []uint16, v, raw float64) error {
	s := strconv.FormatFloat(raw, 'f', -1, 64)
	if len(s) > 2*len(words) {
		s = strconv.FormatFloat(raw, 'g', 2*len(words)-6, 64)
	}
	if len(s) > 2*len(words) {
		return fmt.Errorf("%s: %v as text %q does not fit in %d registers", r.Metric, v, s, len(words))
	}
	b := make([]byte, 2*len(words))
	copy(b, s)
	for i := range words {
		hi, lo := b[2*i], b[2*i+1]
		if r.ByteOrder == BADC || r.ByteOrder == DCBA {
			hi, lo = lo, hi
		}
		words[i] = uint16(hi)<<8 | uint16(lo)
	}
	return nil
}

// toCanonical writes the big-endian bytes of the value held in words (as
// they came off the wire, in address order) into b, len(b) == 2*len(words).
func toCanonical(b []byte, words []uint16, o ByteOrder) {
	n := len(words)
	for i := 0; i < n; i++ {
		var w uint16
		switch o {
		case CDAB, DCBA:
			w = words[n-1-i]
		default:
			w = words[i]
		}
		if o == BADC || o == DCBA {
			w = w<<8 | w>>8
		}
		b[2*i], b[2*i+1] = byte(w>>8), byte(w)
	}
}

// fromCanonical is the inverse of toCanonical.
func fromCanonical(words []uint16, b []byte, o ByteOrder) {
	n := len(words)
	for i := 0; i < n; i++ {
		w := uint16(b[2*i])<<8 | uint16(b[2*i+1])
		if o == BADC || o == DCBA {
			w = w<<8 | w>>8
		}
		switch o {
		case CDAB, DCBA:
			words[n-1-i] = w
		default:
			words[i] = w
		}
	}
}

func stringBytes(b []byte, words []uint16, o ByteOrder) {
	for i, w := range words {
		if o == BADC || o == DCBA {
			w = w<<8 | w>>8
		}
		b[2*i], b[2*i+1] = byte(w>>8), byte(w)
	}
}

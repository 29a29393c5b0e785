package modbus

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quantrac/quantrac/model"
)

func reg(dt DataType, o ByteOrder) *Register {
	r := &Register{Metric: "x", Type: Holding, DataType: dt, ByteOrder: o}
	if dt == String {
		r.Length = 6
	}
	return r
}

func TestRoundTripEveryTypeAndOrder(t *testing.T) {
	values := map[DataType][]float64{
		Int16:   {0, 1, -1, 12345, -32768, 32767},
		Uint16:  {0, 1, 65535, 4660},
		Int32:   {0, -1, 2147483647, -2147483648, 305419896},
		Uint32:  {0, 4294967295, 305419896},
		Int64:   {0, -1, 1 << 53, -(1 << 53), 81985529216486895},
		Uint64:  {0, 1 << 53, 81985529216486895, 1 << 63},
		Float32: {0, -1.5, 12.25, 3.4e38, 1e-30},
		Float64: {0, -1.5, math.Pi, 1e300, -1e-300},
		Bit:     {0, 1},
		String:  {0, 12.5, -7.25, 1234567890},
	}
	for _, dt := range DataTypes {
		for _, o := range ByteOrders {
			r := reg(dt, o)
			for _, v := range values[dt] {
				words, err := r.Encode(v)
				if err != nil {
					t.Fatalf("%s %s encode %v: %v", dt, o, v, err)
				}
				if len(words) != r.Count() {
					t.Fatalf("%s %s: %d words, want %d", dt, o, len(words), r.Count())
				}
				got, err := r.Decode(words)
				if err != nil {
					t.Fatalf("%s %s decode %v (%04X): %v", dt, o, v, words, err)
				}
				if got != v {
					t.Fatalf("%s %s: encode %v → %04X → %v", dt, o, v, words, got)
				}
			}
		}
	}
}

// TestKnownWireLayouts pins the byte orders to the usual documentation
// examples so that a symmetric bug in Encode and Decode cannot hide.
func TestKnownWireLayouts(t *testing.T) {
	f := func(dt DataType, o ByteOrder, words []uint16, want float64) {
		t.Helper()
		r := reg(dt, o)
		got, err := r.Decode(words)
		if err != nil {
			t.Fatalf("%s %s %04X: %v", dt, o, words, err)
		}
		if got != want {
			t.Fatalf("%s %s %04X: got %v, want %v", dt, o, words, got, want)
		}
		enc, err := r.Encode(want)
		if err != nil {
			t.Fatal(err)
		}
		for i := range enc {
			if enc[i] != words[i] {
				t.Fatalf("%s %s encode %v: got %04X, want %04X", dt, o, want, enc, words)
			}
		}
	}
	// 0x12345678 = 305419896
	f(Uint32, ABCD, []uint16{0x1234, 0x5678}, 305419896)
	f(Uint32, CDAB, []uint16{0x5678, 0x1234}, 305419896)
	f(Uint32, BADC, []uint16{0x3412, 0x7856}, 305419896)
	f(Uint32, DCBA, []uint16{0x7856, 0x3412}, 305419896)
	f(Uint16, ABCD, []uint16{0x1234}, 0x1234)
	f(Uint16, CDAB, []uint16{0x1234}, 0x1234)
	f(Uint16, BADC, []uint16{0x3412}, 0x1234)
	f(Uint16, DCBA, []uint16{0x3412}, 0x1234)
	f(Int16, ABCD, []uint16{0xFFFE}, -2)
	// 12.5 as float32 is 0x41480000
	f(Float32, ABCD, []uint16{0x4148, 0x0000}, 12.5)
	f(Float32, CDAB, []uint16{0x0000, 0x4148}, 12.5)
	f(Float32, BADC, []uint16{0x4841, 0x0000}, 12.5)
	f(Float32, DCBA, []uint16{0x0000, 0x4841}, 12.5)
	// 0x0102030405060700 (exact in a float64)
	f(Uint64, ABCD, []uint16{0x0102, 0x0304, 0x0506, 0x0700}, 0x0102030405060700)
	f(Uint64, CDAB, []uint16{0x0700, 0x0506, 0x0304, 0x0102}, 0x0102030405060700)
	f(Uint64, BADC, []uint16{0x0201, 0x0403, 0x0605, 0x0007}, 0x0102030405060700)
	f(Uint64, DCBA, []uint16{0x0007, 0x0605, 0x0403, 0x0201}, 0x0102030405060700)
	f(String, ABCD, []uint16{0x3132, 0x2E35, 0, 0, 0, 0}, 12.5)
	f(String, BADC, []uint16{0x3231, 0x352E, 0, 0, 0, 0}, 12.5)
}

func TestScaledValuesAreDecimals(t *testing.T) {
	f := func(text string, raw uint16, want float64) {
		t.Helper()
		m := mustMap(t, "registers:\n  - {metric: a, type: holding, data_type: uint16, "+text+"}\n")
		r := &m.Registers[0]
		got, err := r.Decode([]uint16{raw})
		if err != nil || got != want {
			t.Fatalf("%s raw %d: got %v (%v), want %v", text, raw, got, err, want)
		}
		w, err := r.Encode(want)
		if err != nil || w[0] != raw {
			t.Fatalf("%s: encode %v = %v (%v), want %d", text, want, w, err, raw)
		}
	}
	f("scale: 0.1", 3, 0.3)
	f("scale: 0.01", 1234, 12.34)
	f("scale: 0.001", 7, 0.007)
	f("scale: 0.2", 3, 0.6)
	f("scale: 0.1, offset: -40", 653, 25.3)
	f("scale: 0.01, offset: 0.1", 20, 0.3)
	// float32 7.12 reads as 7.12, not 7.119999885559082.
	r := reg(Float32, ABCD)
	w, _ := r.Encode(7.12)
	if v, _ := r.Decode(w); v != 7.12 {
		t.Fatalf("float32 7.12 decoded as %v", v)
	}
}

func TestScaleOffsetAndBits(t *testing.T) {
	s := 0.01
	r := &Register{Metric: "x", Type: Holding, DataType: Int16, ByteOrder: ABCD, Scale: &s, Offset: -10}
	got, err := r.Decode([]uint16{1234})
	if err != nil || math.Abs(got-2.34) > 1e-9 {
		t.Fatalf("got %v, %v; want 2.34", got, err)
	}
	w, err := r.Encode(2.34)
	if err != nil || w[0] != 1234 {
		t.Fatalf("encode 2.34: %v %v", w, err)
	}
	if _, err := r.Encode(400); err == nil {
		t.Fatal("encode 400 with scale 0.01 fits no int16 but gave no error")
	}

	// Several bits share one register; EncodeTo changes only its own bit.
	b3 := &Register{Metric: "a", Type: Holding, DataType: Bit, Bit: 3, ByteOrder: ABCD}
	b9 := &Register{Metric: "b", Type: Holding, DataType: Bit, Bit: 9, ByteOrder: ABCD}
	words := []uint16{0}
	if err := b3.EncodeTo(words, 1); err != nil {
		t.Fatal(err)
	}
	if err := b9.EncodeTo(words, 1); err != nil {
		t.Fatal(err)
	}
	if words[0] != 1<<3|1<<9 {
		t.Fatalf("bits: got %016b", words[0])
	}
	if v, _ := b3.Decode(words); v != 1 {
		t.Fatal("bit 3 not set")
	}
	if err := b3.EncodeTo(words, 0); err != nil || words[0] != 1<<9 {
		t.Fatalf("clear bit 3: %016b %v", words[0], err)
	}
	c := &Register{Metric: "c", Type: Coil, DataType: Bit}
	if v, _ := c.Decode([]uint16{1}); v != 1 {
		t.Fatal("coil on decodes to", v)
	}
}

func TestDecodeBadInput(t *testing.T) {
	f := func(r *Register, words []uint16, want string) {
		t.Helper()
		_, err := r.Decode(words)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("decode %04X: got %v, want error containing %q", words, err, want)
		}
	}
	f(reg(Float32, ABCD), []uint16{1}, "got 1 registers, want 2")
	f(reg(Float32, ABCD), []uint16{0x7FC0, 0}, "not a finite number")
	f(reg(Float64, ABCD), []uint16{0x7FF0, 0, 0, 0}, "not a finite number")
	f(reg(String, ABCD), []uint16{0x4142, 0, 0, 0, 0, 0}, `string "AB" is not a number`)
	f(reg(String, ABCD), make([]uint16, 6), "empty string")
}

const goodMap = `# test map
byte_order: CDAB
registers:
  - metric: water_level_m
    type: holding
    address: 0
    data_type: float32
    unit: m
    labels: {sensor: radar}
  - metric: water_level_m
    type: holding
    address: 2
    data_type: int16
    byte_order: ABCD
    scale: 0.01
    labels: {sensor: pressure}
  - metric: pump_on
    type: coil
    address: 5
  - metric: door_open
    type: holding
    address: 10
    data_type: bit
    bit: 4
status:
  type: holding
  address: 100
  values: {0: "00", 1: "01", 2: "02"}
`

func TestParseRegisterMap(t *testing.T) {
	m, err := ParseRegisterMap([]byte(goodMap), "good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Registers) != 4 || m.Registers[0].ByteOrder != CDAB || m.Registers[1].ByteOrder != ABCD {
		t.Fatalf("unexpected map: %+v", m.Registers)
	}
	if m.Registers[2].DataType != Bit {
		t.Fatalf("coil data type defaults to bit, got %q", m.Registers[2].DataType)
	}
	if got := m.Registers[0].SeriesLabels().String(); got != `water_level_m{sensor="radar"}` {
		t.Fatalf("labels %s", got)
	}
	if m.Status.DataType != Uint16 {
		t.Fatalf("status data type defaults to uint16, got %q", m.Status.DataType)
	}
	for raw, want := range map[float64]model.Quality{0: model.QualityGood, 1: model.QualityCalibrating, 2: model.QualityDeviceError, 7: model.QualityDeviceError} {
		if q := m.Status.Quality(raw); q != want {
			t.Fatalf("status %v → %v, want %v", raw, q, want)
		}
	}
}

func TestParseRegisterMapErrors(t *testing.T) {
	f := func(name, text, want string) {
		t.Run(name, func(t *testing.T) {
			t.Helper()
			_, err := ParseRegisterMap([]byte(text), "bad.yaml")
			if err == nil {
				t.Fatalf("no error, want %q", want)
			}
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("got %q, want it to contain %q", err, want)
			}
		})
	}
	f("empty", "", "bad.yaml: file is empty")
	f("syntax", "registers: [\n", "bad.yaml:")
	// goccy/go-yaml v1.19.2 panics on this one (a tagged empty node where a sequence belongs).
	f("parser panic", "registers:\n  ! 0\n0000000008:", `register map bad.yaml: yaml parser failed on malformed input near line 2 "  ! 0"`)
	f("unknown key", "registers:\n  - metric: a\n    type: holding\n    data_type: int16\n    adress: 3\n", `bad.yaml:5:`)
	f("no registers", "byte_order: ABCD\n", "bad.yaml: registers: no registers")
	f("bad order", "byte_order: ABDC\nregisters:\n  - {metric: a, type: holding, data_type: int16}\n", "bad.yaml:1: byte_order: unknown byte order")
	f("bad type", "registers:\n  - metric: a\n    type: holdings\n    data_type: int16\n", `bad.yaml:3: registers[0].type: unknown register type "holdings"`)
	f("bad data type", "registers:\n  - metric: a\n    type: holding\n    data_type: float16\n", `bad.yaml:4: registers[0].data_type: unknown data type "float16"`)
	f("missing data type", "registers:\n  - metric: a\n    type: input\n", `bad.yaml:2: registers[0].data_type: missing data type`)
	f("bad metric", "registers:\n  - metric: 2a\n    type: holding\n    data_type: int16\n", `bad.yaml:2: registers[0].metric: invalid metric name "2a"`)
	f("coil not bit", "registers:\n  - {metric: a, type: coil, data_type: int16}\n", "data type must be bit")
	f("bit range", "registers:\n  - {metric: a, type: holding, data_type: bit, bit: 16}\n", "bit 16 out of range")
	f("string length", "registers:\n  - {metric: a, type: holding, data_type: string}\n", "string length 0 registers out of range")
	f("past end", "registers:\n  - {metric: a, type: holding, data_type: float64, address: 65534}\n", "runs past 65535")
	f("overlap", "registers:\n  - {metric: a, type: holding, data_type: float32, address: 0}\n  - {metric: b, type: holding, data_type: int16, address: 1}\n", "bad.yaml:3: registers[1].address: holding registers 1..1 overlap registers[0]")
	f("duplicate series", "registers:\n  - {metric: a, type: holding, data_type: int16, address: 0}\n  - {metric: a, type: holding, data_type: int16, address: 1}\n", "already read by registers[0]")
	f("reserved label", "registers:\n  - {metric: a, type: holding, data_type: int16, labels: {station: x}}\n", `label "station" is set from the station`)
	f("zero scale", "registers:\n  - {metric: a, type: holding, data_type: int16, scale: 0}\n", "scale 0")
	f("status value", "registers:\n  - {metric: a, type: holding, data_type: int16}\nstatus: {type: holding, address: 9, values: {0: \"03\"}}\n", `status.values.0: unknown datalogger status "03"`)
	f("status float", "registers:\n  - {metric: a, type: holding, data_type: int16}\nstatus: {type: holding, address: 9, data_type: float32, values: {0: \"00\"}}\n", "status register must be an integer")
	f("status no values", "registers:\n  - {metric: a, type: holding, data_type: int16}\nstatus: {type: holding, address: 9}\n", "status.values: missing values")
}

// TestConfigMaps parses every map shipped in configs/maps.
func TestConfigMaps(t *testing.T) {
	dir := filepath.Join("..", "..", "configs", "maps")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Skipf("no configs/maps next to the package: %v", err)
	}
	n := 0
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".yaml") {
			continue
		}
		n++
		m, err := LoadRegisterMap(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		for i := range m.Registers {
			r := &m.Registers[i]
			w, err := r.Encode(1)
			if err != nil {
				t.Errorf("%s %s: encode 1: %v", e.Name(), r.Metric, err)
				continue
			}
			if v, err := r.Decode(w); err != nil || math.Abs(v-1) > 1e-6 {
				t.Errorf("%s %s: round trip 1 → %v, %v", e.Name(), r.Metric, v, err)
			}
		}
	}
	if n < 2 {
		t.Fatalf("configs/maps holds %d maps, want at least 2", n)
	}
}

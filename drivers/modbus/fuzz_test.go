package modbus

import (
	"encoding/binary"
	"testing"
)

// FuzzDecode feeds arbitrary registers to every data type and byte order:
// Decode must never panic, and for numeric types a value it returns must
// encode back to registers that decode to the same value.
func FuzzDecode(f *testing.F) {
	f.Add(uint8(0), uint8(0), uint8(0), []byte{0x12, 0x34})
	f.Add(uint8(6), uint8(3), uint8(0), []byte{0x00, 0x00, 0x41, 0x48})
	f.Add(uint8(7), uint8(1), uint8(0), []byte{0x7F, 0xF0, 0, 0, 0, 0, 0, 0})
	f.Add(uint8(9), uint8(2), uint8(3), []byte("21.5\x00\x00"))
	f.Add(uint8(8), uint8(0), uint8(15), []byte{0x80, 0x00})
	f.Fuzz(func(t *testing.T, dt, order, extra uint8, data []byte) {
		r := &Register{
			Metric:    "x",
			Type:      Holding,
			DataType:  DataTypes[int(dt)%len(DataTypes)],
			ByteOrder: ByteOrders[int(order)%len(ByteOrders)],
		}
		switch r.DataType {
		case Bit:
			r.Bit = int(extra % 16)
		case String:
			r.Length = int(extra%8) + 1
		}
		if extra&0x80 != 0 && r.DataType != String {
			r.Type = Input
		}
		words := make([]uint16, len(data)/2)
		for i := range words {
			words[i] = binary.BigEndian.Uint16(data[2*i:])
		}
		v, err := r.Decode(words)
		if err != nil || r.DataType == String {
			return
		}
		enc, err := r.Encode(v)
		if err != nil {
			return // e.g. 2^64 after rounding a large uint64
		}
		back, err := r.Decode(enc)
		if err != nil || back != v {
			t.Fatalf("%s %s: %04X → %v → %04X → %v, %v", r.DataType, r.ByteOrder, words, v, enc, back, err)
		}
	})
}

// FuzzParseRegisterMap: no input makes the map parser panic.
func FuzzParseRegisterMap(f *testing.F) {
	f.Add([]byte(goodMap))
	f.Add([]byte("registers:\n  - {metric: a, type: holding, data_type: int16}\n"))
	f.Add([]byte("status: {values: {0: 00}}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseRegisterMap(data, "fuzz.yaml")
		if err == nil && len(m.Registers) == 0 {
			t.Fatal("a map without registers was accepted")
		}
	})
}

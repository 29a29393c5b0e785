package decbuf

import (
	"encoding/binary"
	"errors"
	"testing"
)

func TestDecbuf(t *testing.T) {
	var b []byte
	b = binary.AppendUvarint(b, 300)
	b = binary.AppendVarint(b, -5)
	b = append(b, "abc"...)
	d := New(b, nil)
	if v := d.Uvarint(); v != 300 {
		t.Fatalf("Uvarint = %d", v)
	}
	if v := d.Varint(); v != -5 {
		t.Fatalf("Varint = %d", v)
	}
	if v := d.Bytes(3); string(v) != "abc" {
		t.Fatalf("Bytes = %q", v)
	}
	if d.Err != nil || len(d.B) != 0 {
		t.Fatalf("Err %v, %d bytes left", d.Err, len(d.B))
	}
}

func TestDecbufShortIsSticky(t *testing.T) {
	errMine := errors.New("record too short")
	f := func(name string, read func(d *Decbuf)) {
		t.Helper()
		d := New([]byte{0x80}, errMine) // an unfinished varint
		read(&d)
		if !errors.Is(d.Err, errMine) {
			t.Fatalf("%s: Err = %v, want %v", name, d.Err, errMine)
		}
		// Later reads return zero values and keep the first error.
		if d.Uvarint() != 0 || d.Varint() != 0 || d.Bytes(0) != nil || d.Err != errMine {
			t.Fatalf("%s: reads after the error are not zero", name)
		}
	}
	f("uvarint", func(d *Decbuf) { d.Uvarint() })
	f("varint", func(d *Decbuf) { d.Varint() })
	f("bytes", func(d *Decbuf) { d.Bytes(2) })

	var zero Decbuf
	zero.Uvarint()
	if !errors.Is(zero.Err, ErrShort) {
		t.Fatalf("zero Decbuf: Err = %v, want ErrShort", zero.Err)
	}
}

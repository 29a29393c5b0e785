// Package decbuf reads varints and byte runs from a byte slice with a
// sticky error, as Prometheus' encoding.Decbuf does: several values can be
// read in a row and the error checked once before any of them is used.
// Once the data ends early every further read returns zero values.
//
// The collector's queue batches and the tsdb's WAL records, blocks and part
// indexes decode through it; each passes its own error for data that ends
// early, so its messages stay its own.
package decbuf

import (
	"encoding/binary"
	"errors"
)

// ErrShort is the error for data that ends early when New got none.
var ErrShort = errors.New("data ends early")

// Decbuf is a read position in a byte slice.
type Decbuf struct {
	// B is the unread tail.
	B []byte
	// Err is the first error met, nil while every read succeeded.
	Err error
	// short is what Err becomes when B ends early.
	short error
}

// New returns a Decbuf over b that sets Err to short (ErrShort when nil)
// when b ends before a read does.
func New(b []byte, short error) Decbuf {
	if short == nil {
		short = ErrShort
	}
	return Decbuf{B: b, short: short}
}

// Fail records the data-ends-early error unless an error is already set.
func (d *Decbuf) Fail() {
	if d.Err == nil {
		d.Err = d.short
		if d.Err == nil {
			d.Err = ErrShort
		}
	}
}

// Uvarint reads an unsigned varint.
func (d *Decbuf) Uvarint() uint64 {
	if d.Err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.B)
	if n <= 0 {
		d.Fail()
		return 0
	}
	d.B = d.B[n:]
	return v
}

// Varint reads a signed (zig-zag) varint.
func (d *Decbuf) Varint() int64 {
	if d.Err != nil {
		return 0
	}
	v, n := binary.Varint(d.B)
	if n <= 0 {
		d.Fail()
		return 0
	}
	d.B = d.B[n:]
	return v
}

// Bytes reads the next n bytes; the result aliases the input.
func (d *Decbuf) Bytes(n uint64) []byte {
	if d.Err != nil {
		return nil
	}
	if uint64(len(d.B)) < n {
		d.Fail()
		return nil
	}
	v := d.B[:n]
	d.B = d.B[n:]
	return v
}

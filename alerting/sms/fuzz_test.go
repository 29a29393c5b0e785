package sms

import (
	"bytes"
	"testing"
)

// Nothing an SMSC sends makes the reader panic.
func FuzzReadPDU(f *testing.F) {
	var b bytes.Buffer
	deliverSM("84901000001", "QUANTRAC", 0x40, 0x08, []byte{5, 0, 3, 1, 2, 1, 0, 'O', 0, 'K'}).SerializeTo(&b)
	f.Add(b.Bytes())
	b.Reset()
	deliverSM("84901000001", "QUANTRAC", 0x04, 0, []byte("id:1 stat:DELIVRD")).SerializeTo(&b)
	f.Add(b.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		p, _, err := readPDU(bytes.NewReader(data))
		if err == nil && p != nil {
			s := &Sender{}
			s.handle(p)
		}
	})
}

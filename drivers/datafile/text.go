package datafile

import (
	"bytes"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/unicode/norm"
)

// Encoding names what decodeText found.
type Encoding string

// Encodings of datalogger files.
const (
	EncodingUTF8   Encoding = "utf-8"
	EncodingUTF16  Encoding = "utf-16"
	EncodingCP1258 Encoding = "windows-1258"
	utf8BOM                 = "\xef\xbb\xbf"
	utf16LEBOM              = "\xff\xfe"
	utf16BEBOM              = "\xfe\xff"
)

// decodeText turns file bytes into NFC UTF-8 text: a UTF-8 BOM is dropped,
// UTF-16 with a BOM is converted, valid UTF-8 is kept, and anything else is
// read as Windows-1258 (Vietnamese Windows), whose combining tone marks
// are composed so that "Trạm" is the same string however it was written.
func decodeText(b []byte) (string, Encoding) {
	switch {
	case bytes.HasPrefix(b, []byte(utf8BOM)):
		b = b[len(utf8BOM):]
	case bytes.HasPrefix(b, []byte(utf16LEBOM)), bytes.HasPrefix(b, []byte(utf16BEBOM)):
		dec := unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM).NewDecoder()
		if out, err := dec.Bytes(b); err == nil {
			return norm.NFC.String(string(out)), EncodingUTF16
		}
	}
	if utf8.Valid(b) {
		if norm.NFC.IsNormal(b) {
			return string(b), EncodingUTF8
		}
		return norm.NFC.String(string(b)), EncodingUTF8
	}
	out, err := charmap.Windows1258.NewDecoder().Bytes(b)
	if err != nil { // cannot happen: every byte maps
		return string(bytes.ToValidUTF8(b, []byte("\uFFFD"))), EncodingCP1258
	}
	return norm.NFC.String(string(out)), EncodingCP1258
}

// decodeName decodes a file name the same way (names written by Windows
// tools may be in Windows-1258).
func decodeName(name string) string {
	s, _ := decodeText([]byte(name))
	return s
}

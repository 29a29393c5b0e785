package sms

import (
	"strings"
	"unicode"
	"unicode/utf16"

	"golang.org/x/text/unicode/norm"
)

// Data coding values used on submit_sm.
const (
	codingGSM7 = 0x00 // SMSC default alphabet (GSM 03.38), one septet per octet
	codingUCS2 = 0x08 // UCS-2 big endian
)

// Part sizes: a single SMS carries 140 octets; a concatenated part loses
// 6 octets to the user data header (7 septets for GSM-7).
const (
	ucs2Single  = 70  // characters
	ucs2Part    = 67  // characters
	gsm7Single  = 160 // septets
	gsm7Part    = 153 // septets
	maxParts    = 255
	udhLen      = 6
	esmClassUDH = 0x40
)

// part is one submit_sm short_message payload.
type part struct {
	coding byte
	data   []byte // with UDH when udh is set
	udh    bool
}

// encodeUCS2 normalises text to NFC (so "ệ" is one code unit, not e +
// two combining marks) and encodes it as UCS-2 big endian. Characters
// outside the Basic Multilingual Plane become '?'.
func encodeUCS2(text string) []uint16 {
	text = norm.NFC.String(text)
	out := make([]uint16, 0, len(text))
	for _, r := range text {
		if r > 0xFFFF || utf16.IsSurrogate(r) {
			r = '?'
		}
		out = append(out, uint16(r))
	}
	return out
}

// splitUCS2 encodes text and splits it into parts with a concatenation
// UDH (8-bit reference ref) when it does not fit one SMS.
func splitUCS2(text string, ref byte) []part {
	u := encodeUCS2(text)
	if len(u) <= ucs2Single {
		return []part{{coding: codingUCS2, data: ucs2Bytes(u)}}
	}
	n := (len(u) + ucs2Part - 1) / ucs2Part
	if n > maxParts {
		n = maxParts
		u = u[:n*ucs2Part]
	}
	parts := make([]part, 0, n)
	for i := 0; i < n; i++ {
		end := (i + 1) * ucs2Part
		if end > len(u) {
			end = len(u)
		}
		data := append(udh(ref, byte(n), byte(i+1)), ucs2Bytes(u[i*ucs2Part:end])...)
		parts = append(parts, part{coding: codingUCS2, data: data, udh: true})
	}
	return parts
}

func ucs2Bytes(u []uint16) []byte {
	b := make([]byte, 0, 2*len(u))
	for _, c := range u {
		b = append(b, byte(c>>8), byte(c))
	}
	return b
}

func udh(ref, total, seq byte) []byte {
	// IEI 0x00: concatenated short messages, 8-bit reference number.
	return []byte{0x05, 0x00, 0x03, ref, total, seq}
}

// DecodeUCS2 turns UCS-2 big endian bytes back into text.
func DecodeUCS2(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		u = append(u, uint16(b[i])<<8|uint16(b[i+1]))
	}
	return string(utf16.Decode(u))
}

// StripDiacritics removes Vietnamese tone and vowel marks ("Báo động" →
// "Bao dong", "Đ" → "D") for carriers that only take GSM-7 text.
func StripDiacritics(text string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(text) {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue
		case r == 'đ':
			r = 'd'
		case r == 'Đ':
			r = 'D'
		}
		b.WriteRune(r)
	}
	return norm.NFC.String(b.String())
}

// gsm7 maps runes to GSM 03.38 default alphabet septets; extended ones
// (escape 0x1B + code) take two.
var gsm7Basic = map[rune]byte{}
var gsm7Ext = map[rune]byte{'^': 0x14, '{': 0x28, '}': 0x29, '\\': 0x2F, '[': 0x3C, '~': 0x3D, ']': 0x3E, '|': 0x40, '€': 0x65}

func init() {
	const alphabet = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	i := 0
	for _, r := range alphabet {
		if r != 0x1b {
			gsm7Basic[r] = byte(i)
		}
		i++
	}
}

// encodeGSM7 strips diacritics and maps to unpacked septets (one per
// octet, as SMPP carries them); unknown characters become '?'.
func encodeGSM7(text string) [][]byte {
	text = StripDiacritics(text)
	out := make([][]byte, 0, len(text))
	for _, r := range text {
		if c, ok := gsm7Basic[r]; ok {
			out = append(out, []byte{c})
		} else if c, ok := gsm7Ext[r]; ok {
			out = append(out, []byte{0x1b, c})
		} else {
			out = append(out, []byte{gsm7Basic['?']})
		}
	}
	return out
}

// splitGSM7 splits GSM-7 text into parts, never cutting an escape pair.
func splitGSM7(text string, ref byte) []part {
	chars := encodeGSM7(text)
	total := 0
	for _, c := range chars {
		total += len(c)
	}
	if total <= gsm7Single {
		var data []byte
		for _, c := range chars {
			data = append(data, c...)
		}
		return []part{{coding: codingGSM7, data: data}}
	}
	var chunks [][]byte
	var cur []byte
	for _, c := range chars {
		if len(cur)+len(c) > gsm7Part {
			chunks = append(chunks, cur)
			cur = nil
		}
		cur = append(cur, c...)
	}
	chunks = append(chunks, cur)
	if len(chunks) > maxParts {
		chunks = chunks[:maxParts]
	}
	parts := make([]part, len(chunks))
	for i, ch := range chunks {
		parts[i] = part{coding: codingGSM7, data: append(udh(ref, byte(len(chunks)), byte(i+1)), ch...), udh: true}
	}
	return parts
}

// DecodeGSM7 turns unpacked GSM-7 septets back into text (for replies).
func DecodeGSM7(b []byte) string {
	rev := map[byte]rune{}
	for r, c := range gsm7Basic {
		rev[c] = r
	}
	revExt := map[byte]rune{}
	for r, c := range gsm7Ext {
		revExt[c] = r
	}
	var sb strings.Builder
	for i := 0; i < len(b); i++ {
		if b[i] == 0x1b && i+1 < len(b) {
			i++
			if r, ok := revExt[b[i]]; ok {
				sb.WriteRune(r)
			}
			continue
		}
		if r, ok := rev[b[i]]; ok {
			sb.WriteRune(r)
		} else {
			sb.WriteByte('?')
		}
	}
	return sb.String()
}

package queue

import (
	"encoding/binary"
	"hash/crc32"
)

// A frame is one block written to a chunk file:
//
//	offset size field
//	0      4    payload length (little endian)
//	4      8    write time, unix milliseconds (little endian)
//	12     4    CRC32C of bytes 0..12 (header checksum)
//	16     4    CRC32C of the payload
//	20     n    payload
//
// The header has its own checksum so a damaged length is never trusted: a bad
// header ends the readable part of a chunk, a bad payload skips one frame.
const frameHeaderSize = 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendFrame appends the frame for payload written at unix ms t to dst and
// returns the result.
func appendFrame(dst []byte, t int64, payload []byte) []byte {
	var h [frameHeaderSize]byte
	binary.LittleEndian.PutUint32(h[0:4], uint32(len(payload)))
	binary.LittleEndian.PutUint64(h[4:12], uint64(t))
	binary.LittleEndian.PutUint32(h[12:16], crc32.Checksum(h[0:12], castagnoli))
	binary.LittleEndian.PutUint32(h[16:20], crc32.Checksum(payload, castagnoli))
	dst = append(dst, h[:]...)
	return append(dst, payload...)
}

// frameHeader is a decoded frame header.
type frameHeader struct {
	size       int64 // payload length
	t          int64 // write time, unix ms
	payloadCRC uint32
}

// parseFrameHeader decodes and checks a frame header; ok is false when its
// checksum does not match.
func parseFrameHeader(b []byte) (h frameHeader, ok bool) {
	if len(b) < frameHeaderSize {
		return h, false
	}
	if crc32.Checksum(b[0:12], castagnoli) != binary.LittleEndian.Uint32(b[12:16]) {
		return h, false
	}
	h.size = int64(binary.LittleEndian.Uint32(b[0:4]))
	h.t = int64(binary.LittleEndian.Uint64(b[4:12]))
	h.payloadCRC = binary.LittleEndian.Uint32(b[16:20])
	return h, true
}

// payloadOK reports whether payload matches the header's checksum.
func (h frameHeader) payloadOK(payload []byte) bool {
	return crc32.Checksum(payload, castagnoli) == h.payloadCRC
}

package tsdb

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"sync/atomic"
	"syscall"

	"github.com/VictoriaMetrics/VictoriaMetrics/lib/encoding"

	"github.com/quantrac/quantrac/model"
)

// Part file format (version 1): an immutable file holding the samples of
// many series within one partition; doc.go has the grammar. Sample frames
// hold blocks, rollup frames the rollups, both grouped by metric; the index
// locates them.
const (
	partMagic      = "QTPART"
	partVersion    = 1
	partHeaderSize = 8
	partFooterSize = 24
	partEndMagic   = "QTPE"
)

// maxFrameRaw bounds the uncompressed bytes of one frame.
const maxFrameRaw = 256 << 10

// blockMeta locates one block in a part file: frame and range within the
// frame's uncompressed bytes.
type blockMeta struct {
	minT, maxT int64
	count      uint32
	frame      uint32
	off        uint32
	length     uint32
}

// rollupRef locates a series' rollups in a rollup frame.
type rollupRef struct {
	ok                 bool
	frame, off, length uint32
}

// frameMeta locates one compressed frame in a part file.
type frameMeta struct {
	off    uint64
	zlen   uint32
	rawLen uint32
}

// partSeries is one series' entry in a part.
type partSeries struct {
	labels     model.Labels
	last       model.Point
	minT, maxT int64
	allGood    bool
	blocks     []blockMeta
	roll       rollupRef // where the series' rollups are, if any
}

// part is an open part file.
type part struct {
	seq        uint64
	pstart     int64 // partition start
	path       string
	data       []byte // mmap of the file
	size       int64
	minT, maxT int64
	series     map[uint32]*partSeries // by series ref
	frames     []frameMeta            // sample frames
	rframes    []frameMeta            // rollup frames
	level      int
	refs       atomic.Int64 // part sets holding it
	obsolete   atomic.Bool  // remove the file when refs reach 0
	cache      *rollupCache // entries to drop when the part goes
	dataBytes  int64        // bytes of sample frames
	rollBytes  int64        // bytes of rollup frames
	samples    int64        // points in all blocks
}

func (p *part) decRef() {
	if p.refs.Add(-1) != 0 {
		return
	}
	if p.cache != nil {
		p.cache.dropPart(p)
	}
	if p.data != nil {
		syscall.Munmap(p.data)
		p.data = nil
	}
	if p.obsolete.Load() {
		os.Remove(p.path)
	}
}

// partInfo is what parsePart reads from a part's index.
type partInfo struct {
	level     int
	frames    []frameMeta
	rframes   []frameMeta
	rollBytes int64
	entries   []*partSeries
	dataBytes int64
}

// parsePart validates a part file's footer and index and returns its
// frames and series. It never panics on damaged input.
func parsePart(data []byte) (pi *partInfo, err error) {
	defer func() {
		if r := recover(); r != nil {
			pi, err = nil, fmt.Errorf("%w: %v", errBadBlock, r)
		}
	}()
	if len(data) < partHeaderSize+partFooterSize {
		return nil, fmt.Errorf("part too short: %d bytes", len(data))
	}
	if string(data[:6]) != partMagic {
		return nil, fmt.Errorf("bad part magic %X", data[:6])
	}
	if v := binary.LittleEndian.Uint16(data[6:]); v != partVersion {
		return nil, fmt.Errorf("unsupported part version %d", v)
	}
	ft := data[len(data)-partFooterSize:]
	if string(ft[20:]) != partEndMagic {
		return nil, fmt.Errorf("bad part footer magic")
	}
	ioff := binary.LittleEndian.Uint64(ft)
	ilen := binary.LittleEndian.Uint64(ft[8:])
	if ioff < partHeaderSize || ioff > uint64(len(data)) || ilen > uint64(len(data))-ioff || ioff+ilen != uint64(len(data)-partFooterSize) {
		return nil, fmt.Errorf("bad part index location %d+%d in %d bytes", ioff, ilen, len(data))
	}
	cidx := data[ioff : ioff+ilen]
	if crc32.Checksum(cidx, castagnoli) != binary.LittleEndian.Uint32(ft[16:]) {
		return nil, fmt.Errorf("part index checksum mismatch")
	}
	idx, err := encoding.DecompressZSTDLimited(nil, cidx, 1<<30)
	if err != nil {
		return nil, fmt.Errorf("decompress part index: %w", err)
	}
	pi = &partInfo{}
	rd := newRecDecoder(idx)
	pi.level = int(rd.Uvarint())
	nf := rd.Uvarint()
	if rd.Err != nil || nf > uint64(len(rd.B)) {
		return nil, fmt.Errorf("part index: bad frame count")
	}
	readFrames := func(n uint64, what string) ([]frameMeta, int64, error) {
		fms := make([]frameMeta, n)
		var total int64
		for i := range fms {
			fm := &fms[i]
			fm.off = rd.Uvarint()
			zl := rd.Uvarint()
			rl := rd.Uvarint()
			if rd.Err != nil || fm.off < partHeaderSize || fm.off > ioff || zl+4 > ioff-fm.off || rl > 64<<20 {
				return nil, 0, fmt.Errorf("part index: %s frame %d: bad location", what, i)
			}
			fm.zlen, fm.rawLen = uint32(zl), uint32(rl)
			total += int64(zl) + 4
		}
		return fms, total, nil
	}
	if pi.frames, pi.dataBytes, err = readFrames(nf, "sample"); err != nil {
		return nil, err
	}
	nrf := rd.Uvarint()
	if rd.Err != nil || nrf > uint64(len(rd.B)) {
		return nil, fmt.Errorf("part index: bad rollup frame count")
	}
	if pi.rframes, pi.rollBytes, err = readFrames(nrf, "rollup"); err != nil {
		return nil, err
	}
	n := rd.Uvarint()
	if rd.Err != nil || n > uint64(len(rd.B)) {
		return nil, fmt.Errorf("part index: bad series count")
	}
	for i := uint64(0); i < n; i++ {
		ps := &partSeries{}
		nl := rd.Uvarint()
		if nl > uint64(len(rd.B)) {
			return nil, fmt.Errorf("part index: series %d: bad label count", i)
		}
		ps.labels = make(model.Labels, 0, nl)
		for j := uint64(0); j < nl; j++ {
			name := string(rd.Bytes(rd.Uvarint()))
			value := string(rd.Bytes(rd.Uvarint()))
			ps.labels = append(ps.labels, model.Label{Name: name, Value: value})
		}
		ps.last.T = rd.Varint()
		vb := rd.Bytes(9)
		if rd.Err != nil {
			return nil, fmt.Errorf("part index: series %d: %w", i, rd.Err)
		}
		ps.last.V = math.Float64frombits(binary.LittleEndian.Uint64(vb))
		ps.last.Q = model.Quality(vb[8])
		ps.minT = rd.Varint()
		ps.maxT = rd.Varint()
		g := rd.Bytes(1)
		nb := rd.Uvarint()
		if rd.Err != nil || nb > uint64(len(rd.B)) {
			return nil, fmt.Errorf("part index: series %d: bad block count", i)
		}
		ps.allGood = g[0] == 1
		ps.blocks = make([]blockMeta, nb)
		for j := range ps.blocks {
			b := &ps.blocks[j]
			b.minT = rd.Varint()
			b.maxT = b.minT + int64(rd.Uvarint())
			b.count = uint32(rd.Uvarint())
			fr := rd.Uvarint()
			off := rd.Uvarint()
			l := rd.Uvarint()
			if rd.Err != nil || fr >= nf || off > uint64(pi.frames[fr].rawLen) || l > uint64(pi.frames[fr].rawLen)-off {
				return nil, fmt.Errorf("part index: series %d block %d: bad location", i, j)
			}
			b.frame, b.off, b.length = uint32(fr), uint32(off), uint32(l)
		}
		if has := rd.Bytes(1); rd.Err == nil && has[0] == 1 {
			fr := rd.Uvarint()
			off := rd.Uvarint()
			l := rd.Uvarint()
			if rd.Err != nil || fr >= nrf || off > uint64(pi.rframes[fr].rawLen) || l > uint64(pi.rframes[fr].rawLen)-off {
				return nil, fmt.Errorf("part index: series %d: bad rollup location", i)
			}
			ps.roll = rollupRef{ok: true, frame: uint32(fr), off: uint32(off), length: uint32(l)}
		}
		pi.entries = append(pi.entries, ps)
	}
	if rd.Err != nil {
		return nil, fmt.Errorf("part index: %w", rd.Err)
	}
	return pi, nil
}

// openPart maps a part file and parses its index. The part holds one
// reference for the caller; seriesOf maps each index entry to its series.
func openPart(path string, seq uint64, pstart int64, seriesOf func(i int, e *partSeries) *memSeries) (*part, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open part %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat part %s: %w", path, err)
	}
	if st.Size() < partHeaderSize+partFooterSize {
		return nil, fmt.Errorf("part %s: too short (%d bytes)", path, st.Size())
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap part %s: %w", path, err)
	}
	pi, err := parsePart(data)
	if err != nil {
		syscall.Munmap(data)
		return nil, fmt.Errorf("part %s: %w", path, err)
	}
	p := &part{seq: seq, pstart: pstart, path: path, data: data, size: int64(len(data)), dataBytes: pi.dataBytes,
		rollBytes: pi.rollBytes, frames: pi.frames, rframes: pi.rframes, level: pi.level,
		series: make(map[uint32]*partSeries, len(pi.entries))}
	p.minT, p.maxT = 1<<62, -1<<62
	for i, e := range pi.entries {
		ms := seriesOf(i, e)
		if ms == nil || !ms.labels.Equal(e.labels) {
			syscall.Munmap(data)
			return nil, fmt.Errorf("part %s: index entry %d (%s) does not match the series written", path, i, e.labels)
		}
		e.labels = ms.labels // share one copy of the labels
		p.series[ms.ref] = e
		for _, b := range e.blocks {
			p.samples += int64(b.count)
		}
		p.minT = min(p.minT, e.minT)
		p.maxT = max(p.maxT, e.maxT)
	}
	p.refs.Store(1)
	return p, nil
}

// frame returns the uncompressed bytes of sample frame i, cached in dec.
func (p *part) frame(dec *blockDecoder, i uint32) ([]byte, error) {
	return p.loadFrame(dec, false, i)
}

// rollupFrame returns the uncompressed bytes of rollup frame i.
func (p *part) rollupFrame(dec *blockDecoder, i uint32) ([]byte, error) {
	return p.loadFrame(dec, true, i)
}

func (p *part) loadFrame(dec *blockDecoder, rollup bool, i uint32) ([]byte, error) {
	k := frameKey{p, i, rollup}
	if raw, ok := dec.frames[k]; ok {
		return raw, nil
	}
	fm := p.frames[i]
	if rollup {
		fm = p.rframes[i]
	}
	z := p.data[fm.off+4 : fm.off+4+uint64(fm.zlen)]
	if crc32.Checksum(z, castagnoli) != binary.LittleEndian.Uint32(p.data[fm.off:]) {
		return nil, fmt.Errorf("frame %d: checksum mismatch", i)
	}
	raw, err := decompressFrame(z, int(fm.rawLen))
	if err != nil {
		return nil, fmt.Errorf("frame %d: %w", i, err)
	}
	if len(raw) != int(fm.rawLen) {
		return nil, fmt.Errorf("frame %d: %d bytes, want %d", i, len(raw), fm.rawLen)
	}
	if dec.frames == nil {
		dec.frames = map[frameKey][]byte{}
	}
	for dec.frameBytes+len(raw) > maxFrameCache && len(dec.frameOrder) > 0 {
		old := dec.frameOrder[0]
		dec.frameOrder = dec.frameOrder[1:]
		dec.frameBytes -= len(dec.frames[old])
		delete(dec.frames, old)
	}
	dec.frames[k] = raw
	dec.frameOrder = append(dec.frameOrder, k)
	dec.frameBytes += len(raw)
	return raw, nil
}

// rollups decodes the rollups of e (nil levels when absent).
func (p *part) rollups(dec *blockDecoder, e *partSeries) (hourly, daily *rollupRows, err error) {
	if !e.roll.ok {
		return nil, nil, nil
	}
	raw, err := p.rollupFrame(dec, e.roll.frame)
	if err != nil {
		return nil, nil, fmt.Errorf("part %s: series %s: %w", p.path, e.labels, err)
	}
	hourly, daily, err = decodeRollups(raw[e.roll.off : e.roll.off+e.roll.length])
	if err != nil {
		return nil, nil, fmt.Errorf("part %s: series %s: rollups: %w", p.path, e.labels, err)
	}
	return hourly, daily, nil
}

// decompressFrame decompresses a frame whose index entry says it holds
// rawLen bytes. The limit handed to zstd derives from that known size, not
// from the compressed length: it is rawLen rounded up to a power of two and
// at least minFrameLimit, because the cgo zstd panics on a window limit
// below its 1 KiB minimum and the pure-Go zstd keeps one decoder per
// distinct limit (a handful of powers of two instead of one per frame
// size). A frame that decompresses to more than the limit, or to another
// size than rawLen, is an error; any panic from the decompressor on
// damaged input becomes an error too.
func decompressFrame(z []byte, rawLen int) (raw []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			raw, err = nil, fmt.Errorf("decompress: %v", r)
		}
	}()
	raw, err = encoding.DecompressZSTDLimited(nil, z, frameLimit(rawLen))
	if err != nil {
		return nil, err
	}
	if len(raw) != rawLen {
		return nil, fmt.Errorf("decompressed %d bytes, index says %d", len(raw), rawLen)
	}
	return raw, nil
}

// minFrameLimit is the smallest decompression limit decompressFrame uses.
const minFrameLimit = 64 << 10

// frameLimit is the decompression limit for a frame of rawLen bytes.
func frameLimit(rawLen int) int {
	l := minFrameLimit
	for l < rawLen && l < 1<<30 {
		l <<= 1
	}
	return l
}

// appendPoints decodes the blocks of ps overlapping [from, to] and appends
// the points within the range to dst.
func (p *part) appendPoints(dec *blockDecoder, dst []model.Point, ps *partSeries, from, to int64) ([]model.Point, error) {
	for i := range ps.blocks {
		b := &ps.blocks[i]
		if b.maxT < from || b.minT > to {
			continue
		}
		raw, err := p.frame(dec, b.frame)
		if err != nil {
			return dst, fmt.Errorf("part %s: series %s: %w", p.path, ps.labels, err)
		}
		base := len(dst)
		dst, _, err = dec.decodeBlock(dst, raw[b.off:b.off+b.length])
		if err != nil {
			return dst[:base], fmt.Errorf("part %s: series %s: %w", p.path, ps.labels, err)
		}
		if b.minT < from || b.maxT > to {
			in := rangeOf(dst[base:], from, to)
			n := copy(dst[base:], in)
			dst = dst[:base+n]
		}
	}
	return dst, nil
}

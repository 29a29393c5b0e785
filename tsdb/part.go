package tsdb

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"

	"github.com/VictoriaMetrics/VictoriaMetrics/lib/encoding"

	"github.com/quantrac/quantrac/model"
)

// Part file format (version 1): an immutable file holding the samples of
// many series within one partition.
//
//	part   = header block* index footer
//	header = magic "QTPART" | version uint16 LE
//	index  = zstd( nseries uvarint | series* )
//	series = nlabels uvarint | (len uvarint name len uvarint value)* |
//	         lastT varint | lastV float64 LE | lastQ byte | minT varint | maxT varint |
//	         allGood byte | nblocks uvarint | (minT varint | maxT-minT uvarint | count uvarint |
//	         offset uvarint | length uvarint)* | rollups
//	footer = index offset uint64 LE | index length uint64 LE | CRC32C(index) uint32 LE | magic "QTPE"
const (
	partMagic      = "QTPART"
	partVersion    = 1
	partHeaderSize = 8
	partFooterSize = 24
	partEndMagic   = "QTPE"
)

// blockMeta locates one block in a part file.
type blockMeta struct {
	minT, maxT int64
	count      uint32
	off        uint64
	length     uint32
}

// partSeries is one series' entry in a part.
type partSeries struct {
	labels     model.Labels
	last       model.Point
	minT, maxT int64
	allGood    bool
	blocks     []blockMeta
	hourly     *rollupRows // UTC hours; nil when the series is sparse
	daily      *rollupRows // days in the rollup zone; nil when sparse
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
	refs       atomic.Int64           // part sets holding it
	obsolete   atomic.Bool            // remove the file when refs reach 0
	dataBytes  int64                  // bytes of blocks
}

func (p *part) decRef() {
	if p.refs.Add(-1) != 0 {
		return
	}
	if p.data != nil {
		syscall.Munmap(p.data)
		p.data = nil
	}
	if p.obsolete.Load() {
		os.Remove(p.path)
	}
}

// sealedSeries is the input of writePart: one series' points in a partition.
type sealedSeries struct {
	s   *memSeries
	pts []model.Point // sorted, distinct T
}

// writePart writes a part file atomically: tmp file, fsync, rename, fsync dir.
func writePart(dir string, seq uint64, series []sealedSeries, opts *Options) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create partition dir %s: %w", dir, err)
	}
	final := filepath.Join(dir, fmt.Sprintf(partNameFmt, seq))
	tmp := final + tmpSuffix
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return "", fmt.Errorf("create part %s: %w", tmp, err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	w := bufio.NewWriterSize(f, 1<<20)
	hdr := make([]byte, partHeaderSize)
	copy(hdr, partMagic)
	binary.LittleEndian.PutUint16(hdr[6:], partVersion)
	w.Write(hdr)
	off := uint64(partHeaderSize)

	var enc blockEncoder
	var rb rollupBuilder
	var blk []byte
	idx := binary.AppendUvarint(nil, uint64(len(series)))
	maxBlock := opts.MaxBlockSamples
	for _, ss := range series {
		pts := ss.pts
		idx = binary.AppendUvarint(idx, uint64(len(ss.s.labels)))
		for _, l := range ss.s.labels {
			idx = binary.AppendUvarint(idx, uint64(len(l.Name)))
			idx = append(idx, l.Name...)
			idx = binary.AppendUvarint(idx, uint64(len(l.Value)))
			idx = append(idx, l.Value...)
		}
		last := pts[len(pts)-1]
		idx = binary.AppendVarint(idx, last.T)
		idx = binary.LittleEndian.AppendUint64(idx, math.Float64bits(last.V))
		idx = append(idx, byte(last.Q))
		idx = binary.AppendVarint(idx, pts[0].T)
		idx = binary.AppendVarint(idx, last.T)
		allGood := byte(1)
		for _, p := range pts {
			if !p.Q.Good() {
				allGood = 0
				break
			}
		}
		idx = append(idx, allGood)
		nb := (len(pts) + maxBlock - 1) / maxBlock
		idx = binary.AppendUvarint(idx, uint64(nb))
		for i := 0; i < len(pts); i += maxBlock {
			chunk := pts[i:min(i+maxBlock, len(pts))]
			blk = enc.appendBlock(blk[:0], chunk)
			if _, err := w.Write(blk); err != nil {
				return "", fmt.Errorf("write part %s: %w", tmp, err)
			}
			idx = binary.AppendVarint(idx, chunk[0].T)
			idx = binary.AppendUvarint(idx, uint64(chunk[len(chunk)-1].T-chunk[0].T))
			idx = binary.AppendUvarint(idx, uint64(len(chunk)))
			idx = binary.AppendUvarint(idx, off)
			idx = binary.AppendUvarint(idx, uint64(len(blk)))
			off += uint64(len(blk))
		}
		idx = rb.appendRollups(idx, pts, opts.RollupLocation)
	}
	cidx := encoding.CompressZSTDLevel(nil, idx, 5)
	footer := make([]byte, 0, partFooterSize)
	footer = binary.LittleEndian.AppendUint64(footer, off)
	footer = binary.LittleEndian.AppendUint64(footer, uint64(len(cidx)))
	footer = binary.LittleEndian.AppendUint32(footer, crc32.Checksum(cidx, castagnoli))
	footer = append(footer, partEndMagic...)
	w.Write(cidx)
	if _, err := w.Write(footer); err != nil {
		return "", fmt.Errorf("write part %s: %w", tmp, err)
	}
	if err := w.Flush(); err != nil {
		return "", fmt.Errorf("write part %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("sync part %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("close part %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", fmt.Errorf("rename part %s: %w", tmp, err)
	}
	ok = true
	if err := syncDir(dir); err != nil {
		return "", err
	}
	return final, nil
}

// partIndexEntry is what parsePartIndex reports per series.
type partIndexEntry = partSeries

// parsePart validates a part file's footer and index and returns its series.
// It never panics on damaged input.
func parsePart(data []byte) (entries []*partSeries, dataBytes int64, err error) {
	defer func() {
		if r := recover(); r != nil {
			entries, err = nil, fmt.Errorf("%w: %v", errBadBlock, r)
		}
	}()
	if len(data) < partHeaderSize+partFooterSize {
		return nil, 0, fmt.Errorf("part too short: %d bytes", len(data))
	}
	if string(data[:6]) != partMagic {
		return nil, 0, fmt.Errorf("bad part magic %X", data[:6])
	}
	if v := binary.LittleEndian.Uint16(data[6:]); v != partVersion {
		return nil, 0, fmt.Errorf("unsupported part version %d", v)
	}
	ft := data[len(data)-partFooterSize:]
	if string(ft[20:]) != partEndMagic {
		return nil, 0, fmt.Errorf("bad part footer magic")
	}
	ioff := binary.LittleEndian.Uint64(ft)
	ilen := binary.LittleEndian.Uint64(ft[8:])
	if ioff < partHeaderSize || ioff > uint64(len(data)) || ilen > uint64(len(data))-ioff || ioff+ilen != uint64(len(data)-partFooterSize) {
		return nil, 0, fmt.Errorf("bad part index location %d+%d in %d bytes", ioff, ilen, len(data))
	}
	cidx := data[ioff : ioff+ilen]
	if crc32.Checksum(cidx, castagnoli) != binary.LittleEndian.Uint32(ft[16:]) {
		return nil, 0, fmt.Errorf("part index checksum mismatch")
	}
	idx, err := encoding.DecompressZSTDLimited(nil, cidx, 1<<30)
	if err != nil {
		return nil, 0, fmt.Errorf("decompress part index: %w", err)
	}
	rd := recDecoder{b: idx}
	n := rd.uvarint()
	if n > uint64(len(idx)) {
		return nil, 0, fmt.Errorf("part index: %d series in %d bytes", n, len(idx))
	}
	for i := uint64(0); i < n; i++ {
		ps := &partSeries{}
		nl := rd.uvarint()
		if nl > uint64(len(rd.b)) {
			return nil, 0, fmt.Errorf("part index: series %d: bad label count", i)
		}
		ps.labels = make(model.Labels, 0, nl)
		for j := uint64(0); j < nl; j++ {
			name := string(rd.bytes(rd.uvarint()))
			value := string(rd.bytes(rd.uvarint()))
			ps.labels = append(ps.labels, model.Label{Name: name, Value: value})
		}
		ps.last.T = rd.varint()
		vb := rd.bytes(9)
		if rd.err != nil {
			return nil, 0, fmt.Errorf("part index: series %d: %w", i, rd.err)
		}
		ps.last.V = math.Float64frombits(binary.LittleEndian.Uint64(vb))
		ps.last.Q = model.Quality(vb[8])
		ps.minT = rd.varint()
		ps.maxT = rd.varint()
		g := rd.bytes(1)
		nb := rd.uvarint()
		if rd.err != nil || nb > uint64(len(rd.b)) {
			return nil, 0, fmt.Errorf("part index: series %d: bad block count", i)
		}
		ps.allGood = g[0] == 1
		ps.blocks = make([]blockMeta, nb)
		for j := range ps.blocks {
			b := &ps.blocks[j]
			b.minT = rd.varint()
			b.maxT = b.minT + int64(rd.uvarint())
			b.count = uint32(rd.uvarint())
			b.off = rd.uvarint()
			b.length = uint32(rd.uvarint())
			if rd.err != nil || b.off < partHeaderSize || b.off > ioff || uint64(b.length) > ioff-b.off {
				return nil, 0, fmt.Errorf("part index: series %d block %d: bad location", i, j)
			}
			dataBytes += int64(b.length)
		}
		if err := ps.readRollups(&rd); err != nil {
			return nil, 0, fmt.Errorf("part index: series %d: %w", i, err)
		}
		entries = append(entries, ps)
	}
	if rd.err != nil {
		return nil, 0, fmt.Errorf("part index: %w", rd.err)
	}
	return entries, dataBytes, nil
}

// openPart maps a part file and parses its index.
func openPart(path string) (data []byte, entries []*partSeries, dataBytes int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("open part %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, 0, fmt.Errorf("stat part %s: %w", path, err)
	}
	if st.Size() < partHeaderSize+partFooterSize {
		return nil, nil, 0, fmt.Errorf("part %s: too short (%d bytes)", path, st.Size())
	}
	data, err = syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("mmap part %s: %w", path, err)
	}
	entries, dataBytes, err = parsePart(data)
	if err != nil {
		syscall.Munmap(data)
		return nil, nil, 0, fmt.Errorf("part %s: %w", path, err)
	}
	return data, entries, dataBytes, nil
}

// appendPoints decodes the blocks of ps overlapping [from, to] and appends
// the points within the range to dst.
func (p *part) appendPoints(dec *blockDecoder, dst []model.Point, ps *partSeries, from, to int64) ([]model.Point, error) {
	for i := range ps.blocks {
		b := &ps.blocks[i]
		if b.maxT < from || b.minT > to {
			continue
		}
		base := len(dst)
		var err error
		dst, err = dec.decodeBlock(dst, p.data[b.off:b.off+uint64(b.length)])
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

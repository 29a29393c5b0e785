package tsdb

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"

	"github.com/VictoriaMetrics/VictoriaMetrics/lib/encoding"

	"github.com/quantrac/quantrac/atomicfile"
	"github.com/quantrac/quantrac/model"
)

// sealedSeries is one series' points in a partition, input of writePart.
type sealedSeries struct {
	s   *memSeries
	pts []model.Point // sorted, distinct T
}

// partWriter streams series (in label order) into a new part file, so a
// merge holds one series in memory at a time. The file is written as
// <seq>.part.tmp and renamed by finish after fsync.
type partWriter struct {
	dir, tmp, final string
	f               *os.File
	w               *bufio.Writer
	off             uint64
	opts            *Options
	level           int

	enc        blockEncoder
	rb         rollupBuilder
	frames     []frameMeta
	rframes    []frameMeta
	raw, z     []byte
	rraw       []byte
	idx        []byte
	nseries    int
	prevMetric string
	err        error
}

func newPartWriter(dir string, seq uint64, opts *Options, level int) (*partWriter, error) {
	if _, err := os.Stat(dir); err != nil {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("create partition dir %s: %w", dir, err)
		}
		if err := atomicfile.SyncDir(filepath.Dir(dir)); err != nil {
			return nil, err
		}
	}
	final := filepath.Join(dir, fmt.Sprintf(partNameFmt, seq))
	pw := &partWriter{dir: dir, final: final, tmp: final + tmpSuffix, opts: opts, level: level}
	f, err := os.OpenFile(pw.tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create part %s: %w", pw.tmp, err)
	}
	pw.f = f
	pw.w = bufio.NewWriterSize(f, 1<<20)
	hdr := make([]byte, partHeaderSize)
	copy(hdr, partMagic)
	binary.LittleEndian.PutUint16(hdr[6:], partVersion)
	pw.write(hdr)
	return pw, nil
}

func (pw *partWriter) write(b []byte) {
	if pw.err != nil {
		return
	}
	if _, err := pw.w.Write(b); err != nil {
		pw.err = fmt.Errorf("write part %s: %w", pw.tmp, err)
	}
	pw.off += uint64(len(b))
}

// writeFrame compresses raw and writes it as one frame.
func (pw *partWriter) writeFrame(raw []byte) frameMeta {
	pw.z = encoding.CompressZSTDLevel(pw.z[:0], raw, pw.level)
	var c [4]byte
	binary.LittleEndian.PutUint32(c[:], crc32.Checksum(pw.z, castagnoli))
	fm := frameMeta{off: pw.off, zlen: uint32(len(pw.z)), rawLen: uint32(len(raw))}
	pw.write(c[:])
	pw.write(pw.z)
	return fm
}

// flushFrame writes the pending blocks as one sample frame.
func (pw *partWriter) flushFrame() {
	if len(pw.raw) > 0 {
		pw.frames = append(pw.frames, pw.writeFrame(pw.raw))
		pw.raw = pw.raw[:0]
	}
}

// flushRollupFrame writes the pending rollups as one rollup frame.
func (pw *partWriter) flushRollupFrame() {
	if len(pw.rraw) > 0 {
		pw.rframes = append(pw.rframes, pw.writeFrame(pw.rraw))
		pw.rraw = pw.rraw[:0]
	}
}

// add writes one series; pts must be sorted with distinct timestamps and
// not empty, and series must come in label order.
func (pw *partWriter) add(ls model.Labels, pts []model.Point) {
	if m := ls.Metric(); m != pw.prevMetric {
		pw.flushFrame()
		pw.flushRollupFrame()
		pw.prevMetric = m
	}
	pw.nseries++
	idx := pw.idx
	idx = binary.AppendUvarint(idx, uint64(len(ls)))
	for _, l := range ls {
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
	maxBlock := pw.opts.MaxBlockSamples
	idx = binary.AppendUvarint(idx, uint64((len(pts)+maxBlock-1)/maxBlock))
	for i := 0; i < len(pts); i += maxBlock {
		chunk := pts[i:min(i+maxBlock, len(pts))]
		if len(pw.raw) >= maxFrameRaw {
			pw.flushFrame()
		}
		start := len(pw.raw)
		pw.raw = pw.enc.appendBlock(pw.raw, chunk)
		idx = binary.AppendVarint(idx, chunk[0].T)
		idx = binary.AppendUvarint(idx, uint64(chunk[len(chunk)-1].T-chunk[0].T))
		idx = binary.AppendUvarint(idx, uint64(len(chunk)))
		idx = binary.AppendUvarint(idx, uint64(len(pw.frames)))
		idx = binary.AppendUvarint(idx, uint64(start))
		idx = binary.AppendUvarint(idx, uint64(len(pw.raw)-start))
	}
	// Rollups go to the rollup frame of this metric; a series with
	// neither level stores nothing.
	if len(pw.rraw) >= maxFrameRaw {
		pw.flushRollupFrame()
	}
	start := len(pw.rraw)
	pw.rraw = pw.rb.appendRollups(pw.rraw, pts, pw.opts.RollupLocation)
	if len(pw.rraw)-start == 2 && pw.rraw[start] == 0 && pw.rraw[start+1] == 0 {
		pw.rraw = pw.rraw[:start]
		idx = append(idx, 0)
	} else {
		idx = append(idx, 1)
		idx = binary.AppendUvarint(idx, uint64(len(pw.rframes)))
		idx = binary.AppendUvarint(idx, uint64(start))
		idx = binary.AppendUvarint(idx, uint64(len(pw.rraw)-start))
	}
	pw.idx = idx
}

// abort removes the temporary file.
func (pw *partWriter) abort() {
	pw.f.Close()
	os.Remove(pw.tmp)
}

// finish writes the index and footer, fsyncs, renames the file into place
// and fsyncs the directory. It returns the final path.
func (pw *partWriter) finish() (string, error) {
	pw.flushFrame()
	pw.flushRollupFrame()
	head := binary.AppendUvarint(nil, uint64(pw.level))
	for _, fms := range [][]frameMeta{pw.frames, pw.rframes} {
		head = binary.AppendUvarint(head, uint64(len(fms)))
		for _, fm := range fms {
			head = binary.AppendUvarint(head, fm.off)
			head = binary.AppendUvarint(head, uint64(fm.zlen))
			head = binary.AppendUvarint(head, uint64(fm.rawLen))
		}
	}
	head = binary.AppendUvarint(head, uint64(pw.nseries))
	idx := append(head, pw.idx...)
	cidx := encoding.CompressZSTDLevel(nil, idx, max(pw.level, 5))
	ioff := pw.off
	pw.write(cidx)
	footer := make([]byte, 0, partFooterSize)
	footer = binary.LittleEndian.AppendUint64(footer, ioff)
	footer = binary.LittleEndian.AppendUint64(footer, uint64(len(cidx)))
	footer = binary.LittleEndian.AppendUint32(footer, crc32.Checksum(cidx, castagnoli))
	footer = append(footer, partEndMagic...)
	pw.write(footer)
	if pw.err == nil {
		if err := pw.w.Flush(); err != nil {
			pw.err = fmt.Errorf("write part %s: %w", pw.tmp, err)
		}
	}
	if pw.err == nil {
		if err := pw.f.Sync(); err != nil {
			pw.err = fmt.Errorf("sync part %s: %w", pw.tmp, err)
		}
	}
	if pw.err != nil {
		pw.abort()
		return "", pw.err
	}
	if err := pw.f.Close(); err != nil {
		os.Remove(pw.tmp)
		return "", fmt.Errorf("close part %s: %w", pw.tmp, err)
	}
	if err := os.Rename(pw.tmp, pw.final); err != nil {
		os.Remove(pw.tmp)
		return "", fmt.Errorf("rename part %s: %w", pw.tmp, err)
	}
	if err := atomicfile.SyncDir(pw.dir); err != nil {
		return "", err
	}
	return pw.final, nil
}

// writePart writes series (in label order) as one part file.
func writePart(dir string, seq uint64, series []sealedSeries, opts *Options, level int) (string, error) {
	pw, err := newPartWriter(dir, seq, opts, level)
	if err != nil {
		return "", err
	}
	for _, ss := range series {
		pw.add(ss.s.labels, ss.pts)
	}
	return pw.finish()
}

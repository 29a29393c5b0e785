// Package tsdb is quantrac's embedded time-series engine. It implements
// model.Storage: batches of samples go in through Append; Select, Aggregate,
// Latest, LabelNames and LabelValues read them back, series by series in
// label order.
//
// # Write path
//
// Append validates every sample (finite value, valid labels and UTF-8,
// timestamp in [1970, 2262), retention cutoff, out-of-order window, batch
// size) and reports the bad ones by index while storing the rest. The good
// samples are encoded as one WAL record (series refs, time deltas, values,
// quality) and applied to the in-memory head of each series under one lock,
// so WAL order equals memory order and a replay gives the same
// last-write-wins answer. Append returns once the record is written and,
// under SyncEveryBatch, fsynced; concurrent appenders share one write and
// one fsync (group commit). Under SyncInterval the record reaches the
// operating system before Append returns and a ticker fsyncs.
//
// When the head holds Options.HeadMaxSamples (or every SealInterval, and at
// Close) it is sealed: the head moves into an in-memory part, a new WAL
// segment starts, one immutable part file is written per time partition the
// head touched, and the WAL segments it covered are deleted. A background
// compactor merges the parts of a partition into one (recomputing rollups),
// recompresses partitions that turned cold with a stronger zstd level, and
// drops whole partitions past the retention. Reads merge, per series, the
// parts of each partition (later parts win on equal timestamps), the parts
// being sealed and the head.
//
// # On-disk layout
//
//	<dir>/LOCK                          advisory lock: one process per directory
//	<dir>/wal/00000000, 00000001, ...   WAL segments, numbered, 64 MiB by default
//	<dir>/partitions/p<start ms>/       one directory per partition (start, 13 digits)
//	<dir>/partitions/p<start>/<seq>.part   immutable part files, seq 8 digits
//	*.tmp                               files being written; removed at open
//	*.broken                            parts that failed validation at open, set aside
//
// A part is written as <seq>.part.tmp, fsynced, renamed and its directory
// fsynced, so a crash never leaves a half-written part under its real name.
// Every integer below is little endian unless stated; varint and uvarint are
// Go's encoding/binary forms, "zvarint" is lib/encoding's zig-zag varint.
//
// # WAL segment (magic "QTWAL", version 1)
//
//	segment = "QTWAL" | version byte (1) | 2 zero bytes | record*
//	record  = payload length uint32 | CRC32C(payload) uint32 | payload
//	payload = 1 (series) | count uvarint | (ref uvarint | nlabels uvarint | (len name len value)*)*
//	        | 2 (samples) | count uvarint | (ref uvarint | dt varint | value float64 bits | quality byte)*
//
// dt is the difference to the previous sample of the record. Records never
// span segments. Every segment started after an open or a seal begins with a
// series record naming every series, so older segments can be deleted. On
// open every segment is replayed; reading stops at the first torn or
// damaged record (short header, length past the end, zero padding, CRC
// mismatch) and the segment is truncated there (CorruptionError says where).
//
// A write or fsync error (a full disk) fails the batches not yet
// acknowledged; they are also taken back out of the head. The next Append
// (or the sync ticker, a seal or Close) recovers: the current segment is
// truncated to the end of its last acknowledged record and fsynced, and a
// new segment starts with a series record naming every series (the series
// records of failed batches were dropped). Until that succeeds every
// Append fails; no restart is needed.
//
// # Part file (magic "QTPART", version 1)
//
//	part   = "QTPART" | version uint16 (1) | frame* | index | footer
//	frame  = CRC32C(z) uint32 | z = zstd(block* or rollups*)
//	index  = zstd(level uvarint | frames | rollup frames | nseries uvarint | series*)
//	frames = n uvarint | (offset uvarint | zlen uvarint | rawlen uvarint)*
//	series = nlabels uvarint | (len name len value)* | lastT varint | lastV float64 | lastQ byte |
//	         minT varint | maxT varint | allGood byte | nblocks uvarint |
//	         (minT varint | maxT-minT uvarint | count uvarint | frame uvarint | offset uvarint | length uvarint)* |
//	         (0 | 1 | rollup frame uvarint | offset uvarint | length uvarint)
//	footer = index offset uint64 | index length uint64 | CRC32C(index) uint32 | "QTPE"
//
// Series are stored in label order, so the series of one metric are
// adjacent. A sample frame holds consecutive blocks of one metric and a
// rollup frame the rollups of those series (a new frame starts once one
// passes 256 KiB uncompressed): compressing similar series together is what
// brings the sample data well under a per-series codec, and keeping rollups
// apart lets a daily query read them without decompressing samples. Only
// the index (labels, block and frame locations) is held in memory; frames
// are read from the mapped file when a query needs them. level records the
// zstd level (Options.CompressLevel when sealed, ColdCompressLevel for cold
// partitions). rawlen, the uncompressed size of a frame, is what a reader
// bounds zstd decompression by (rounded up to a power of two, at least
// 64 KiB, so tiny frames decode with the cgo and the pure-Go zstd alike)
// and must equal the decompressed length; the compressed length is never
// used as that limit.
//
// # Block (inside a frame)
//
//	block   = count uvarint | times | values | quality
//	times   = 1 | first zvarint | delta zvarint                       regular sampling
//	        | 2 | first zvarint | delta zvarint | delta-of-delta zvarint * (count-2)
//	values  = 1 | float64 bits                                        one value repeated
//	        | 2 | exponent zvarint | first zvarint | delta zvarint * (count-1)
//	        | 3 | exponent zvarint | first zvarint | delta zvarint | delta-of-delta zvarint * (count-2)
//	        | 4 | (float64 bits XOR previous bits, big endian) * count
//	quality = runs uvarint | (quality byte | run length uvarint) * runs
//
// Values 2 and 3 are lib/decimal mantissas with one exponent per block and
// are used only when they give back the exact float64 bits; the encoder tries
// both and keeps the shorter. A block holds at most Options.MaxBlockSamples
// points, so its time span adapts to the sampling rate (an hourly series
// fills a 30-day partition with one block, a 1 s series with many).
//
// # Rollups (in rollup frames)
//
//	rollups = hourly level | daily level
//	level   = 0 (absent) | 1 | rows uvarint | keys column | counts column | kind |
//	          sum, min, max, first, last columns
//	kind  = 1 | exponent zvarint   decimal mantissas (sums exact) | 2   float64 bits
//	column = zvarint of first differences * rows
//
// The hourly level is keyed by UTC hour, the daily level by local day in
// Options.RollupLocation (Asia/Ho_Chi_Minh by default); both cover the good
// samples of the series in the part and are stored only when at least twice
// as small as the samples. Aggregate answers a bucket from rollups when the
// bucket is whole hours (any zone with whole-hour offset) or whole days in
// the rollup zone (or a zone with the same fixed offset over the range), every partition under it has the series in one part, and
// no unsealed sample falls in it; otherwise it reads raw samples. Merging
// parts recomputes rollups, so late writes are reflected once compacted and
// answered from raw data until then. Decoded rollups are kept in a
// least-recently-used cache bounded by Options.RollupCacheBytes.
//
// # Compatibility
//
// Readers check magic and version of every segment and part; a new format
// gets a new version number, and a part that fails its checks is renamed
// *.broken and logged rather than stopping the engine.
package tsdb

package tsdb

// Usage describes the sealed data: how many parts, series and samples, the
// bytes of compressed sample frames (DataBytes), of compressed rollup frames
// (RollupBytes) and of whole part files including their index (PartBytes).
type Usage struct {
	Partitions  int   `json:"partitions"`
	Parts       int   `json:"parts"`
	Samples     int64 `json:"samples"`
	DataBytes   int64 `json:"data_bytes"`
	RollupBytes int64 `json:"rollup_bytes"`
	PartBytes   int64 `json:"part_bytes"`
	HeadSamples int64 `json:"head_samples"`
}

// Usage reports the current sealed data and head size.
func (db *DB) Usage() Usage {
	ps := db.currentParts()
	defer ps.decRef()
	u := Usage{Partitions: len(ps.partitions), HeadSamples: db.headSamples.Load()}
	for _, pt := range ps.partitions {
		for _, p := range pt.parts {
			u.Parts++
			u.DataBytes += p.dataBytes
			u.RollupBytes += p.rollBytes
			u.PartBytes += p.size
			u.Samples += p.samples
		}
	}
	return u
}

package tsdb

// Every name the engine creates on disk.
const (
	walDirName       = "wal"
	partitionsDir    = "partitions"
	lockFileName     = "LOCK"
	partFileExt      = ".part"
	tmpSuffix        = ".tmp"
	segmentNameFmt   = "%08d"
	partitionNameFmt = "p%013d"    // partition start, ms since the epoch
	partNameFmt      = "%08d.part" // part sequence number within the DB
)

package queue

import "github.com/quantrac/quantrac/atomicfile"

// On-disk names inside a queue directory.
const (
	// metainfoFilename holds the reader and writer offsets as JSON; it is
	// replaced through atomicfile.WriteFile (metainfoFilename+tmpSuffix,
	// fsynced and renamed into place).
	metainfoFilename = "metainfo.json"
	// lockFilename is flock-ed while a process has the queue open.
	lockFilename = "flock.lock"
	// tmpSuffix marks files being written; open removes them.
	tmpSuffix = atomicfile.TmpSuffix
	// chunkNameLen is the length of a chunk file name: the offset of its
	// first byte as 16 lower-case hex digits.
	chunkNameLen = 16
)

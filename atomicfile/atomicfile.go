// Package atomicfile replaces small files so that a crash or power failure
// leaves either the old content or the new one, never a mix: the data goes
// to path+".tmp", is fsynced, renamed over path, and the directory is
// fsynced so that the rename itself survives.
//
// A ".tmp" file left behind by a crash is simply overwritten by the next
// write. Every quantrac store that rewrites a whole file (tokens, stations,
// queue metainfo, processed-file log) goes through WriteFile, and every
// directory fsync through SyncDir.
package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// TmpSuffix is appended to the target path to name the temporary file.
const TmpSuffix = ".tmp"

// WriteFile replaces path with data: it writes path+TmpSuffix (created with
// perm, or truncated if a previous attempt left it), fsyncs and closes it,
// renames it over path and fsyncs the directory of path. On failure before
// the rename the temporary file is removed and path is untouched. The
// directory must exist. Errors name the file they concern.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	tmp := path + TmpSuffix
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, perm)
	if err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("rename %s to %s: %w", tmp, path, err)
	}
	return SyncDir(filepath.Dir(path))
}

// SyncDir fsyncs a directory so that entries created, renamed or removed in
// it survive a power failure. A file system that does not support fsync on
// directories (EINVAL) is not an error.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}

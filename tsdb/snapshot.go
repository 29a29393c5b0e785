package tsdb

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/quantrac/quantrac/atomicfile"
)

// Snapshot writes a consistent copy of the database into dir, which must
// not exist yet: it seals the head, then hard-links (or copies, across file
// systems) every part file of the current set. The copy holds every sample
// acknowledged before the call and opens with Open, for backup or restore.
func (db *DB) Snapshot(ctx context.Context, dir string) error {
	if db.isClosed() {
		return ErrClosed
	}
	if _, err := os.Stat(dir); err == nil {
		return fmt.Errorf("snapshot %s: already exists", dir)
	}
	if err := db.seal(ctx); err != nil {
		return fmt.Errorf("snapshot %s: seal head: %w", dir, err)
	}
	ps := db.currentParts()
	defer ps.decRef()
	tmp := dir + tmpSuffix
	os.RemoveAll(tmp)
	if err := os.MkdirAll(filepath.Join(tmp, walDirName), 0o755); err != nil {
		return fmt.Errorf("snapshot %s: %w", dir, err)
	}
	for _, pt := range ps.partitions {
		if err := ctx.Err(); err != nil {
			os.RemoveAll(tmp)
			return err
		}
		pdir := filepath.Join(tmp, partitionsDir, partitionDirName(pt.start))
		if err := os.MkdirAll(pdir, 0o755); err != nil {
			return fmt.Errorf("snapshot %s: %w", dir, err)
		}
		for _, p := range pt.parts {
			dst := filepath.Join(pdir, filepath.Base(p.path))
			if err := os.Link(p.path, dst); err != nil {
				if err := copyFile(p.path, dst); err != nil {
					os.RemoveAll(tmp)
					return fmt.Errorf("snapshot %s: %w", dir, err)
				}
			}
		}
		if err := atomicfile.SyncDir(pdir); err != nil {
			return err
		}
	}
	for _, d := range []string{filepath.Join(tmp, partitionsDir), filepath.Join(tmp, walDirName), tmp} {
		os.MkdirAll(d, 0o755)
		if err := atomicfile.SyncDir(d); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("snapshot %s: %w", dir, err)
	}
	return atomicfile.SyncDir(filepath.Dir(dir))
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

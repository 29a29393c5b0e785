package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteFileReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	for _, want := range []string{"first\n", "second, longer\n", "3\n"} {
		if err := WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Fatalf("content %q, want %q", got, want)
		}
	}
	if _, err := os.Stat(path + TmpSuffix); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("temporary file left behind: %v", err)
	}
}

func TestWriteFilePerm(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	if err := WriteFile(path, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", st.Mode().Perm())
	}
}

// A crash between creating the temporary file and the rename leaves a torn
// .tmp behind; the next write must overwrite it (not append to it, not fail)
// and the old content must have stayed intact until then.
func TestWriteFileAfterCrashLeftover(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "metainfo.json")
	if err := WriteFile(path, []byte(`{"old":true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	leftover := strings.Repeat("torn half-written garbage ", 100)
	if err := os.WriteFile(path+TmpSuffix, []byte(leftover), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != `{"old":true}` {
		t.Fatalf("target changed by leftover: %q", got)
	}
	if err := WriteFile(path, []byte(`{"new":1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != `{"new":1}` {
		t.Fatalf("content %q after write over leftover", got)
	}
	if _, err := os.Stat(path + TmpSuffix); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("temporary file left behind: %v", err)
	}
}

func TestWriteFileErrorNamesPath(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "no-such-dir", "state.json")
	err := WriteFile(missing, []byte("x"), 0o644)
	if err == nil {
		t.Fatal("write into a missing directory succeeded")
	}
	if !strings.Contains(err.Error(), missing) {
		t.Fatalf("error %q does not name %s", err, missing)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("error %q does not wrap fs.ErrNotExist", err)
	}

	// The target is a non-empty directory: the rename fails, the old
	// directory stays and no temporary file is left.
	target := filepath.Join(dir, "busy")
	if err := os.MkdirAll(filepath.Join(target, "child"), 0o755); err != nil {
		t.Fatal(err)
	}
	err = WriteFile(target, []byte("x"), 0o644)
	if err == nil {
		t.Fatal("rename over a non-empty directory succeeded")
	}
	if !strings.Contains(err.Error(), target) {
		t.Fatalf("error %q does not name %s", err, target)
	}
	if _, err := os.Stat(target + TmpSuffix); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("temporary file left behind after failed rename: %v", err)
	}
}

func TestSyncDir(t *testing.T) {
	dir := t.TempDir()
	if err := SyncDir(dir); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "gone")
	err := SyncDir(missing)
	if err == nil {
		t.Fatal("sync of a missing directory succeeded")
	}
	if !strings.Contains(err.Error(), missing) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("error %q should name %s and wrap fs.ErrNotExist", err, missing)
	}
}

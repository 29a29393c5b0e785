package datafile

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/quantrac/quantrac/atomicfile"
)

// processedStore remembers the station and time of every accepted file,
// one line per file appended to a log and fsynced:
//
//	<province>\t<station>\t<time ms>\t<quoted file name>\t<processed at ms>\n
//
// Lines older than the keep period (by measurement time) are dropped when
// the store is opened; a torn or garbled line is skipped.
type processedStore struct {
	path string
	f    *os.File
	keys map[string]processedEntry
}

type processedEntry struct {
	file string
	at   int64
}

func openProcessed(path string, keep time.Duration, now time.Time) (*processedStore, int, error) {
	ps := &processedStore{path: path, keys: map[string]processedEntry{}}
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return nil, 0, fmt.Errorf("read processed files %s: %w", path, err)
	}
	minT := now.Add(-keep).UnixMilli()
	var kept bytes.Buffer
	dropped := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	complete := len(data) == 0 || data[len(data)-1] == '\n'
	for sc.Scan() {
		line := sc.Text()
		f := strings.Split(line, "\t")
		var t, at int64
		var file string
		ok := len(f) == 5
		if ok {
			t, err = strconv.ParseInt(f[2], 10, 64)
			ok = err == nil
		}
		if ok {
			at, err = strconv.ParseInt(f[4], 10, 64)
			ok = err == nil
		}
		if ok {
			file, err = strconv.Unquote(f[3])
			ok = err == nil
		}
		if !ok || t < minT {
			dropped++
			continue
		}
		ps.keys[FileName{Province: f[0], Station: f[1], T: t}.Key()] = processedEntry{file: file, at: at}
		kept.WriteString(line)
		kept.WriteByte('\n')
	}
	if !complete && len(data) > 0 {
		dropped++ // the torn last line was parsed above only if it happened to be whole
	}
	if dropped > 0 {
		if err := atomicfile.WriteFile(path, kept.Bytes(), 0o644); err != nil {
			return nil, 0, err
		}
	}
	ps.f, err = os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, 0, fmt.Errorf("open processed files %s: %w", path, err)
	}
	return ps, dropped, nil
}

func (ps *processedStore) lookup(key string) (processedEntry, bool) {
	e, ok := ps.keys[key]
	return e, ok
}

// add records a file and syncs the log.
func (ps *processedStore) add(name FileName, file string, at time.Time) error {
	line := fmt.Sprintf("%s\t%s\t%d\t%s\t%d\n", oneLine(name.Province), oneLine(name.Station), name.T, strconv.Quote(file), at.UnixMilli())
	if _, err := ps.f.WriteString(line); err != nil {
		return fmt.Errorf("record processed file %s in %s: %w", file, ps.path, err)
	}
	if err := ps.f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", ps.path, err)
	}
	ps.keys[name.Key()] = processedEntry{file: file, at: at.UnixMilli()}
	return nil
}

func (ps *processedStore) close() error { return ps.f.Close() }

// oneLine keeps a field free of the log's separators.
func oneLine(s string) string {
	return strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(s)
}

package datafile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/rs/zerolog"

	"github.com/quantrac/quantrac/model"
)

// Directory and file names inside the spool.
const (
	DoneDirName       = "done"
	RejectedDirName   = "rejected"
	ProcessedFileName = ".processed"
	ErrorSuffix       = ".error"
)

// Handler receives the samples of one file. The file moves to done/ only
// after the handler returned nil; on an error it stays in the spool and is
// tried again at the next rescan.
type Handler func(ctx context.Context, batch []model.Sample) error

// Options configure a Watcher. Zero values take the defaults noted.
type Options struct {
	// Spool is the directory stations drop files into. Required.
	Spool string
	// DoneDir and RejectedDir receive processed files. Defaults
	// <spool>/done and <spool>/rejected.
	DoneDir     string
	RejectedDir string
	// StateFile remembers the station and time of accepted files (to
	// recognise a file sent twice). Default <spool>/.processed.
	StateFile string
	// Format is the separator and column order of the lines.
	Format Format
	// Parameters add to or override DefaultParameters.
	Parameters map[string]Parameter
	// Location of times in files and names; default Asia/Ho_Chi_Minh.
	Location *time.Location
	// Stations give the kind of a station (label kind); a file of a station
	// not in the table uses DefaultKind, or is rejected when that is empty.
	Stations    []model.Station
	DefaultKind string
	// Extensions of data files, case-insensitive. Default [".txt"]. Other
	// files, names starting with '.', and names ending in .tmp, .part or
	// .filepart (uploads in progress) are left alone.
	Extensions []string
	// Settle is how long a file's size and modification time must stay
	// unchanged before it is read (a file still being written is not).
	// Default 2 s.
	Settle time.Duration
	// Rescan is the period of the full directory scan that backs up
	// fsnotify (and retries files whose handler failed). Default 30 s.
	Rescan time.Duration
	// MaxFileSize rejects larger files unread. Default 16 MiB.
	MaxFileSize int64
	// KeepKeys is how long the station and time of accepted files are
	// remembered, by measurement time. Default 400 days.
	KeepKeys time.Duration
	// Logger for file events.
	Logger zerolog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

func (o *Options) setDefaults() {
	if o.DoneDir == "" {
		o.DoneDir = filepath.Join(o.Spool, DoneDirName)
	}
	if o.RejectedDir == "" {
		o.RejectedDir = filepath.Join(o.Spool, RejectedDirName)
	}
	if o.StateFile == "" {
		o.StateFile = filepath.Join(o.Spool, ProcessedFileName)
	}
	if len(o.Extensions) == 0 {
		o.Extensions = []string{".txt"}
	}
	if o.Settle <= 0 {
		o.Settle = 2 * time.Second
	}
	if o.Rescan <= 0 {
		o.Rescan = 30 * time.Second
	}
	if o.MaxFileSize <= 0 {
		o.MaxFileSize = 16 << 20
	}
	if o.KeepKeys <= 0 {
		o.KeepKeys = 400 * 24 * time.Hour
	}
	if o.Location == nil {
		o.Location = LocalZone
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Outcome is what happened to one file.
type Outcome string

// Outcomes of ProcessFile.
const (
	OutcomeDone      Outcome = "done"      // stored, moved to done/
	OutcomeRejected  Outcome = "rejected"  // moved to rejected/ with a .error file
	OutcomeDuplicate Outcome = "duplicate" // same station and time as an accepted file: rejected/, nothing stored
	OutcomeRetry     Outcome = "retry"     // the handler (or the disk) failed: left in the spool
	OutcomeIgnored   Outcome = "ignored"   // not a data file
)

// Stats count files since New.
type Stats struct {
	Done, Rejected, Duplicates, Retries, Samples, BadLines uint64
}

// Watcher processes the files of a spool directory.
type Watcher struct {
	opts     Options
	handler  Handler
	log      zerolog.Logger
	stations map[string]model.Station
	cfg      *parseConfig
	store    *processedStore
	looks    map[string]look

	done, rejected, duplicates, retries, samples, badLines atomic.Uint64
}

type look struct {
	size int64
	mod  time.Time
	at   time.Time
}

// New checks the options, creates the done and rejected directories and
// loads the record of processed files. Call Close when done.
func New(opts Options, handler Handler) (*Watcher, error) {
	if opts.Spool == "" {
		return nil, fmt.Errorf("datafile: spool directory is required")
	}
	if handler == nil {
		return nil, fmt.Errorf("datafile: handler is nil")
	}
	opts.setDefaults()
	if fi, err := os.Stat(opts.Spool); err != nil {
		return nil, fmt.Errorf("datafile spool: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("datafile spool %s: not a directory", opts.Spool)
	}
	cfg, err := ParseOptions{Format: opts.Format, Parameters: opts.Parameters, Location: opts.Location}.config()
	if err != nil {
		return nil, err
	}
	for _, d := range []string{opts.DoneDir, opts.RejectedDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("datafile: %w", err)
		}
	}
	w := &Watcher{
		opts:     opts,
		handler:  handler,
		log:      opts.Logger.With().Str("component", "datafile").Str("spool", opts.Spool).Logger(),
		stations: make(map[string]model.Station, len(opts.Stations)),
		cfg:      cfg,
		looks:    map[string]look{},
	}
	for _, st := range opts.Stations {
		w.stations[st.ID] = st
	}
	store, dropped, err := openProcessed(opts.StateFile, opts.KeepKeys, opts.Now())
	if err != nil {
		return nil, fmt.Errorf("datafile: %w", err)
	}
	if dropped > 0 {
		w.log.Info().Int("dropped", dropped).Str("file", opts.StateFile).Msg("datafile: pruned old or damaged entries of the processed-files record")
	}
	w.store = store
	return w, nil
}

// Close releases the record of processed files.
func (w *Watcher) Close() error { return w.store.close() }

// Stats returns the counters.
func (w *Watcher) Stats() Stats {
	return Stats{
		Done: w.done.Load(), Rejected: w.rejected.Load(), Duplicates: w.duplicates.Load(),
		Retries: w.retries.Load(), Samples: w.samples.Load(), BadLines: w.badLines.Load(),
	}
}

// Run watches the spool until ctx ends, then returns nil. Files already in
// the spool are processed first. Run and ProcessFile must not be used from
// two goroutines at once.
func (w *Watcher) Run(ctx context.Context) error {
	fw, err := fsnotify.NewWatcher()
	if err == nil {
		if err = fw.Add(w.opts.Spool); err != nil {
			fw.Close()
			fw = nil
		}
	}
	var events chan fsnotify.Event
	var errs chan error
	if err != nil {
		w.log.Warn().Err(err).Dur("rescan", w.opts.Rescan).Msg("datafile: cannot watch the spool; relying on the periodic rescan")
	} else {
		defer fw.Close()
		events, errs = fw.Events, fw.Errors
	}
	w.scan()
	tick := w.opts.Settle / 4
	if tick < 20*time.Millisecond {
		tick = 20 * time.Millisecond
	}
	checkT := time.NewTicker(tick)
	defer checkT.Stop()
	rescanT := time.NewTicker(w.opts.Rescan)
	defer rescanT.Stop()
	w.log.Info().Msg("datafile: watching")
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if ev.Has(fsnotify.Create) || ev.Has(fsnotify.Write) || ev.Has(fsnotify.Chmod) {
				w.see(filepath.Base(ev.Name))
			}
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			w.log.Warn().Err(err).Msg("datafile: watch error (the rescan catches up)")
		case <-checkT.C:
			w.check(ctx)
		case <-rescanT.C:
			w.scan()
		}
	}
}

// scan adds every candidate file of the spool.
func (w *Watcher) scan() {
	entries, err := os.ReadDir(w.opts.Spool)
	if err != nil {
		w.log.Error().Err(err).Msg("datafile: cannot list the spool")
		return
	}
	for _, e := range entries {
		if e.Type().IsRegular() {
			w.see(e.Name())
		}
	}
}

// isDataFile says whether a name in the spool is a file to read.
func (w *Watcher) isDataFile(name string) bool {
	if strings.HasPrefix(name, ".") {
		return false
	}
	lower := strings.ToLower(name)
	for _, suf := range []string{".tmp", ".part", ".filepart", ErrorSuffix} {
		if strings.HasSuffix(lower, suf) {
			return false
		}
	}
	for _, ext := range w.opts.Extensions {
		if strings.HasSuffix(lower, strings.ToLower(ext)) {
			return true
		}
	}
	return false
}

// see starts watching a file for completeness.
func (w *Watcher) see(name string) {
	if !w.isDataFile(name) {
		return
	}
	if _, ok := w.looks[name]; ok {
		return
	}
	fi, err := os.Stat(filepath.Join(w.opts.Spool, name))
	if err != nil || !fi.Mode().IsRegular() {
		return
	}
	w.looks[name] = look{size: fi.Size(), mod: fi.ModTime(), at: w.opts.Now()}
}

// check processes the files whose size and time stayed put for Settle.
func (w *Watcher) check(ctx context.Context) {
	now := w.opts.Now()
	for name, lk := range w.looks {
		if ctx.Err() != nil {
			return
		}
		fi, err := os.Stat(filepath.Join(w.opts.Spool, name))
		if err != nil {
			delete(w.looks, name)
			continue
		}
		if fi.Size() != lk.size || !fi.ModTime().Equal(lk.mod) {
			w.looks[name] = look{size: fi.Size(), mod: fi.ModTime(), at: now}
			continue
		}
		if now.Sub(lk.at) < w.opts.Settle {
			continue
		}
		delete(w.looks, name)
		_, _ = w.ProcessFile(ctx, filepath.Join(w.opts.Spool, name))
	}
}

// ProcessFile reads one complete file now, hands its samples over and moves
// it. The error describes a rejection or a retry; the outcome says which.
func (w *Watcher) ProcessFile(ctx context.Context, path string) (Outcome, error) {
	base := filepath.Base(path)
	if !w.isDataFile(base) {
		return OutcomeIgnored, nil
	}
	display := decodeName(base)
	log := w.log.With().Str("file", display).Logger()
	fi, err := os.Stat(path)
	if err != nil {
		return OutcomeRetry, fmt.Errorf("datafile %s: %w", display, err)
	}
	if fi.Size() > w.opts.MaxFileSize {
		return w.reject(log, path, fmt.Sprintf("file of %d bytes is over max_file_size %d", fi.Size(), w.opts.MaxFileSize), nil, 0)
	}
	name, err := ParseName(base, w.opts.Location)
	if err != nil {
		return w.reject(log, path, err.Error(), nil, 0)
	}
	log = log.With().Str("station", name.Station).Logger()
	kind := w.opts.DefaultKind
	if st, ok := w.stations[name.Station]; ok && st.Kind != "" {
		kind = st.Kind
	}
	if kind == "" {
		return w.reject(log, path, fmt.Sprintf("station %q is not in the station table (and no default kind is set)", name.Station), nil, 0)
	}
	if prev, ok := w.store.lookup(name.Key()); ok {
		w.duplicates.Add(1)
		out, err := w.reject(log, path, fmt.Sprintf("duplicate: station %s at %s was already read from %s at %s; nothing stored",
			name.Station, time.UnixMilli(name.T).In(w.opts.Location).Format("2006-01-02 15:04:05"),
			decodeName(prev.file), time.UnixMilli(prev.at).UTC().Format(time.RFC3339)), nil, 0)
		if out == OutcomeRejected {
			out = OutcomeDuplicate
		}
		return out, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		w.retries.Add(1)
		log.Error().Err(err).Msg("datafile: cannot read; will retry")
		return OutcomeRetry, fmt.Errorf("datafile %s: %w", display, err)
	}
	cfg := *w.cfg
	cfg.kind = kind
	p := parse(data, name, &cfg)
	w.badLines.Add(uint64(len(p.Errors)))
	if len(p.Samples) == 0 {
		reason := "no readings in the file"
		if len(p.Errors) > 0 {
			reason = fmt.Sprintf("none of the %d lines could be read", p.Lines)
		}
		return w.reject(log, path, reason, p.Errors, 0)
	}
	if err := w.handler(ctx, p.Samples); err != nil {
		w.retries.Add(1)
		log.Error().Err(err).Dur("retry_in", w.opts.Rescan).Msg("datafile: handler failed; file left in the spool")
		return OutcomeRetry, fmt.Errorf("datafile %s: hand over %d samples: %w", display, len(p.Samples), err)
	}
	w.samples.Add(uint64(len(p.Samples)))
	if len(p.Errors) > 0 {
		return w.reject(log, path, partialReason(len(p.Errors), p.Lines, len(p.Samples)), p.Errors, len(p.Samples))
	}
	dst, err := moveUnique(path, w.opts.DoneDir)
	if err != nil {
		w.retries.Add(1)
		log.Error().Err(err).Msg("datafile: stored but cannot move to done/")
		return OutcomeRetry, fmt.Errorf("datafile %s: %w", display, err)
	}
	if err := w.store.add(name, base, w.opts.Now()); err != nil {
		log.Error().Err(err).Msg("datafile: cannot record the processed file; a resend would be stored again")
	}
	w.done.Add(1)
	log.Info().Int("samples", len(p.Samples)).Str("encoding", string(p.Encoding)).Str("to", dst).Msg("datafile: stored")
	return OutcomeDone, nil
}

// reject moves the file to rejected/ and writes <name>.error beside it.
func (w *Watcher) reject(log zerolog.Logger, path, reason string, lines []LineError, stored int) (Outcome, error) {
	dst, err := moveUnique(path, w.opts.RejectedDir)
	if err != nil {
		w.retries.Add(1)
		log.Error().Err(err).Str("reason", reason).Msg("datafile: cannot move to rejected/")
		return OutcomeRetry, fmt.Errorf("datafile %s: %s; %w", decodeName(filepath.Base(path)), reason, err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "file: %s\nrejected at: %s\nreason: %s\n", decodeName(filepath.Base(path)), w.opts.Now().UTC().Format(time.RFC3339), reason)
	for _, le := range lines {
		fmt.Fprintf(&b, "line %d: %v\n\t%s\n", le.Line, le.Err, le.Text)
	}
	if err := os.WriteFile(dst+ErrorSuffix, []byte(b.String()), 0o644); err != nil {
		log.Error().Err(err).Msg("datafile: cannot write the .error file")
	}
	w.rejected.Add(1)
	ev := log.Warn().Str("reason", reason).Str("to", dst).Int("bad_lines", len(lines))
	if stored > 0 {
		ev = ev.Int("stored", stored)
	}
	ev.Msg("datafile: rejected")
	return OutcomeRejected, errors.New(reason)
}

// moveUnique renames path into dir, adding .1, .2, ... when the name is taken.
func moveUnique(path, dir string) (string, error) {
	base := filepath.Base(path)
	dst := filepath.Join(dir, base)
	for i := 1; ; i++ {
		if _, err := os.Lstat(dst); os.IsNotExist(err) {
			break
		}
		if i > 1000 {
			return "", fmt.Errorf("move %s to %s: too many files of that name", base, dir)
		}
		dst = filepath.Join(dir, fmt.Sprintf("%s.%d", base, i))
	}
	if err := os.Rename(path, dst); err != nil {
		return "", fmt.Errorf("move %s to %s: %w", base, dir, err)
	}
	return dst, nil
}

// partialReason says what happened to a file with some bad lines, in the
// words an operator reads in the .error file.
func partialReason(bad, lines, stored int) string {
	good := fmt.Sprintf("the %d good lines were stored", stored)
	if stored == 1 {
		good = "the 1 good line was stored"
	}
	return fmt.Sprintf("%d of %d lines could not be read; %s (resending the corrected file is safe)", bad, lines, good)
}

package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync/atomic"
	"time"

	"github.com/quantrac/quantrac/model"
	"github.com/quantrac/quantrac/tsdb"
)

type tsdbResult struct {
	Samples            int     `json:"samples"`
	Series             int     `json:"series"`
	DataBytes          int64   `json:"data_bytes"`
	RollupBytes        int64   `json:"rollup_bytes"`
	DiskBytes          int64   `json:"disk_bytes"`
	DataBytesPerSample float64 `json:"data_bytes_per_sample"`
	DiskBytesPerSample float64 `json:"disk_bytes_per_sample"`
	AppendSamplesPerS  float64 `json:"append_samples_per_s"`
	DailyAvg1yMs       float64 `json:"daily_avg_1y_ms"`
	RawScanSamplesPerS float64 `json:"raw_scan_samples_per_s"`
	CloseMs            float64 `json:"close_ms"`
	Parts              int     `json:"parts"`
	Sync               string  `json:"sync"`
	BatchSamples       int     `json:"batch_samples"`
	Writers            int     `json:"writers"`

	VM *vmResult `json:"vm,omitempty"`

	RatioDataBytesPerSample *float64 `json:"ratio_data_bytes_per_sample,omitempty"`
	RatioDiskBytesPerSample *float64 `json:"ratio_disk_bytes_per_sample,omitempty"`
	RatioDailyAvg1yMs       *float64 `json:"ratio_daily_avg_1y_ms,omitempty"`
	RatioAppend             *float64 `json:"ratio_append_samples_per_s,omitempty"`
}

func progress(format string, args ...any) {
	fmt.Printf("# "+format+"\n", args...)
}

func runTSDB(args []string) error {
	fs := flag.NewFlagSet("tsdb", flag.ExitOnError)
	csvDir := fs.String("csv", "", "directory of CSV files (one station each; required)")
	vmPath := fs.String("vm", "", "path to a victoria-metrics binary to compare with (optional)")
	batch := fs.Int("batch", 10000, "samples per Append call")
	writers := fs.Int("writers", 4, "concurrent appenders (each takes whole CSV files)")
	keep := fs.String("dir", "", "data directory to use (default: a fresh temporary one, removed after)")
	year := fs.Int("year", 2014, "calendar year of the daily-average query")
	runs := fs.Int("runs", 20, "query repetitions (median is reported)")
	fs.Parse(args)
	if *csvDir == "" {
		return fmt.Errorf("-csv DIR is required")
	}
	progress("reading %s", *csvDir)
	samples, err := loadCSVDir(*csvDir)
	if err != nil {
		return err
	}
	series := map[string]bool{}
	for _, s := range samples {
		series[s.Labels.String()] = true
	}
	progress("parsed %d samples of %d series", len(samples), len(series))

	dir := *keep
	if dir == "" {
		dir, err = os.MkdirTemp("", "quantrac-bench-tsdb-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	}
	opts := tsdb.DefaultOptions()
	db, err := tsdb.Open(dir, opts)
	if err != nil {
		return err
	}
	ctx := context.Background()
	// Writers append concurrently, as the api's ingest requests do; each
	// takes whole stations (CSV files), so every series is written in time
	// order by one writer. Concurrent batches share WAL fsyncs.
	var groups [][]model.Sample
	for i := 0; i < len(samples); {
		st := samples[i].Labels.Get("station")
		j := i
		for j < len(samples) && samples[j].Labels.Get("station") == st {
			j++
		}
		groups = append(groups, samples[i:j])
		i = j
	}
	nw := max(1, min(*writers, len(groups)))
	var appended atomic.Int64
	errc := make(chan error, nw)
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				progress("appended %d/%d samples", appended.Load(), len(samples))
			}
		}
	}()
	start := time.Now()
	for w := 0; w < nw; w++ {
		go func(w int) {
			for g := w; g < len(groups); g += nw {
				ss := groups[g]
				for i := 0; i < len(ss); i += *batch {
					b := ss[i:min(i+*batch, len(ss))]
					res, err := db.Append(ctx, b)
					if err != nil {
						errc <- err
						return
					}
					if res.Rejected > 0 {
						errc <- fmt.Errorf("append rejected %d samples: %v", res.Rejected, res.Errors[0].Reason)
						return
					}
					appended.Add(int64(len(b)))
				}
			}
			errc <- nil
		}(w)
	}
	var appendErr error
	for w := 0; w < nw; w++ {
		if err := <-errc; err != nil && appendErr == nil {
			appendErr = err
		}
	}
	appendDur := time.Since(start)
	close(done)
	if appendErr != nil {
		db.Close()
		return appendErr
	}
	t0 := time.Now()
	if err := db.Close(); err != nil {
		return err
	}
	closeDur := time.Since(t0)
	progress("appended %d samples in %v (%d writers, Append calls only), close (seal) %v", len(samples), appendDur.Round(time.Millisecond), nw, time.Since(t0).Round(time.Millisecond))

	db, err = tsdb.Open(dir, opts)
	if err != nil {
		return err
	}
	defer db.Close()
	u := db.Usage()
	disk, err := dirSize(dir)
	if err != nil {
		return err
	}
	res := tsdbResult{
		Samples:            len(samples),
		Series:             len(series),
		DataBytes:          u.DataBytes,
		RollupBytes:        u.RollupBytes,
		DiskBytes:          disk,
		DataBytesPerSample: float64(u.DataBytes) / float64(len(samples)),
		DiskBytesPerSample: float64(disk) / float64(len(samples)),
		AppendSamplesPerS:  float64(len(samples)) / appendDur.Seconds(),
		CloseMs:            float64(closeDur.Microseconds()) / 1000,
		Parts:              u.Parts,
		Sync:               "every batch",
		BatchSamples:       *batch,
		Writers:            nw,
	}
	if u.Samples != int64(len(samples)) {
		return fmt.Errorf("stored %d samples, appended %d", u.Samples, len(samples))
	}
	progress("tsdb: %d parts, data %d bytes (%.3f B/sample), rollups %d bytes, directory %d bytes (%.3f B/sample)", u.Parts, u.DataBytes, res.DataBytesPerSample, u.RollupBytes, disk, res.DiskBytesPerSample)

	all, _ := model.ParseSelector(`{__name__=~".+"}`)
	loc, _ := time.LoadLocation("Asia/Ho_Chi_Minh")
	from := time.Date(*year, 1, 1, 0, 0, 0, 0, loc)
	to := from.AddDate(1, 0, 0).Add(-time.Millisecond)
	var times []float64
	var points int
	for r := 0; r < *runs; r++ {
		points = 0
		t0 := time.Now()
		err := db.Aggregate(ctx, model.AggregateQuery{Matchers: all, From: from.UnixMilli(), To: to.UnixMilli(), Step: 24 * time.Hour, Func: model.AggAvg, Location: loc}, func(ls model.Labels, pts []model.Point) error {
			points += len(pts)
			return nil
		})
		if err != nil {
			return err
		}
		times = append(times, float64(time.Since(t0).Microseconds())/1000)
	}
	res.DailyAvg1yMs = median(times)
	progress("daily avg of %d: %d points, median %.3f ms", *year, points, res.DailyAvg1yMs)

	var scanned int
	t0 = time.Now()
	err = db.Select(ctx, model.SelectQuery{Matchers: all, From: 0, To: model.MaxTime - 1}, func(ls model.Labels, pts []model.Point) error {
		scanned += len(pts)
		return nil
	})
	if err != nil {
		return err
	}
	res.RawScanSamplesPerS = float64(scanned) / time.Since(t0).Seconds()
	progress("raw scan: %d samples at %.0f samples/s", scanned, res.RawScanSamplesPerS)

	if *vmPath != "" {
		vr, err := benchVM(*vmPath, samples, from, to, *runs)
		if err != nil {
			return fmt.Errorf("victoriametrics: %w", err)
		}
		res.VM = vr
		ratio := func(a, b float64) *float64 {
			if b == 0 {
				return nil
			}
			r := a / b
			return &r
		}
		res.RatioDataBytesPerSample = ratio(res.DataBytesPerSample, vr.DataBytesPerSample)
		res.RatioDiskBytesPerSample = ratio(res.DiskBytesPerSample, vr.DiskBytesPerSample)
		res.RatioDailyAvg1yMs = ratio(res.DailyAvg1yMs, vr.DailyAvg1yMs)
		res.RatioAppend = ratio(res.AppendSamplesPerS, vr.ImportSamplesPerS)
	}
	b, _ := json.Marshal(res)
	fmt.Println(string(b))
	return nil
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			n += info.Size()
		}
		return nil
	})
	return n, err
}

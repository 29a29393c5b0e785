package tsdb

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/VictoriaMetrics/VictoriaMetrics/lib/encoding"

	"github.com/quantrac/quantrac/model"
)

// TestFrameDecompressSizes round-trips frames from a few bytes (below
// zstd's smallest window) to beyond maxFrameRaw, in both cgo and pure-Go
// builds, and checks that a wrong size in the index is an error.
func TestFrameDecompressSizes(t *testing.T) {
	for _, n := range []int{1, 7, 100, 1000, 1023, 1024, 1025, 4096, 65535, 65537, maxFrameRaw, maxFrameRaw + 4000} {
		raw := make([]byte, n)
		for i := range raw {
			raw[i] = byte(i*7 + i/13)
		}
		for _, level := range []int{1, 3, 9} {
			z := encoding.CompressZSTDLevel(nil, raw, level)
			got, err := decompressFrame(z, n)
			if err != nil || !bytes.Equal(got, raw) {
				t.Fatalf("size %d level %d: %d bytes, %v", n, level, len(got), err)
			}
			if _, err := decompressFrame(z, n-1); err == nil && n > 1 {
				t.Fatalf("size %d level %d: index size %d accepted", n, level, n-1)
			}
			if _, err := decompressFrame(z, n+1); err == nil {
				t.Fatalf("size %d level %d: index size %d accepted", n, level, n+1)
			}
		}
	}
	if _, err := decompressFrame([]byte("not zstd at all"), 10); err == nil {
		t.Fatal("garbage frame decompressed")
	}
}

func TestFrameLimit(t *testing.T) {
	for _, c := range []struct{ raw, want int }{{0, 64 << 10}, {1, 64 << 10}, {64 << 10, 64 << 10}, {64<<10 + 1, 128 << 10}, {maxFrameRaw, maxFrameRaw}, {maxFrameRaw + 1, 2 * maxFrameRaw}} {
		if got := frameLimit(c.raw); got != c.want {
			t.Errorf("frameLimit(%d) = %d, want %d", c.raw, got, c.want)
		}
	}
}

// TestFrameSmallSealedRead seals parts whose frames are tiny and reads
// them back after reopening.
func TestFrameSmallSealedRead(t *testing.T) {
	for _, count := range []int{1, 5, 60, 2000} {
		t.Run(fmt.Sprint(count), func(t *testing.T) {
			dir := t.TempDir()
			opts := DefaultOptions()
			opts.HeadMaxSamples = 1
			db, err := Open(dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now().UnixMilli()
			ref := refModel{}
			var batch []model.Sample
			for i := range count {
				for _, m := range []string{"water_level_m", "rainfall_mm"} {
					s := model.Sample{Labels: model.New(m, "station", "HN-X", "province", "HN"), T: now + int64(i)*1000, V: 7.1 + float64(i%7)*0.37}
					batch = append(batch, s)
					ref.add(s)
				}
			}
			if _, err := db.Append(context.Background(), batch); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			db, err = Open(dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			checkAgainst(t, db, ref, 0, model.MaxTime-1, true)
		})
	}
}

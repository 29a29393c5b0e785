package queue

import (
	"testing"

	"github.com/rs/zerolog"
)

func BenchmarkQueueWriteRead(b *testing.B) {
	q, err := Open(b.TempDir(), Options{Sync: SyncNever}, zerolog.Nop())
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	block := make([]byte, 1024)
	b.ReportAllocs()
	b.SetBytes(int64(len(block)))
	for i := 0; i < b.N; i++ {
		if err := q.Write(block); err != nil {
			b.Fatal(err)
		}
		blk, ok, err := q.TryNext()
		if err != nil || !ok {
			b.Fatal(ok, err)
		}
		q.Ack(blk.End)
	}
}

func BenchmarkQueueReadFromDisk(b *testing.B) {
	q, err := Open(b.TempDir(), Options{Sync: SyncNever, MemoryBytes: 1}, zerolog.Nop())
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	block := make([]byte, 1024)
	for i := 0; i < b.N; i++ {
		q.Write(block)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(block)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		blk, ok, err := q.TryNext()
		if err != nil || !ok {
			b.Fatal(ok, err)
		}
		q.Ack(blk.End)
	}
}

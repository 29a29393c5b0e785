package mqtt

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/quantrac/quantrac/model"
)

// BenchmarkSubscriberFlatJSON measures messages per second decoded and
// handed over (and acked) from one connection to a real mosquitto: flat
// JSON, 4 values a message, QoS 1. The messages are queued in the broker
// for our persistent session first, so the publisher's speed does not
// count; the timer covers connect, receive, decode, hand-over and the
// acknowledgements reaching paho.
func BenchmarkSubscriberFlatJSON(b *testing.B) {
	m := startMosquitto(b)
	const perMsg = 4
	var got, target atomic.Int64
	done := make(chan struct{}, 1)
	handler := func(_ context.Context, batch []model.Sample, ack func()) {
		ack()
		if got.Add(int64(len(batch))) >= target.Load() {
			select {
			case done <- struct{}{}:
			default:
			}
		}
	}
	opts := testOptions(m.url())
	opts.MaxInFlight = 10000
	target.Store(1 << 62)

	// Create the session and its subscriptions, then go away.
	s, err := New(opts, handler)
	if err != nil {
		b.Fatal(err)
	}
	stop := runSubscriber(b, s)
	waitConnected(b, s, 1)
	if err := stop(); err != nil {
		b.Fatal(err)
	}

	payloads := make([][]byte, 1000)
	for i := range payloads {
		payloads[i] = AppendJSON(nil, JSONMessage{Time: time.Unix(1795568400+int64(i), 0), TimeFormat: TimeUnixS, Status: "00",
			Values: []Value{{"pm25_ugm3", float64(i)}, {"pm10_ugm3", 30.1}, {"temperature_c", 28.1}, {"humidity_percent", 81}}})
	}
	topics := []string{"stations/HN/HN-01", "stations/HN/HN-02", "stations/HP/HP-01"}
	pub := newPublisher(b, m.url(), "", "")
	var toks []paho.Token
	for i := 0; i < b.N; i++ {
		toks = append(toks, pub.c.Publish(topics[i%len(topics)], 1, false, payloads[i%len(payloads)]))
		if len(toks) == 5000 {
			for _, tok := range toks {
				tok.Wait()
			}
			toks = toks[:0]
		}
	}
	for _, tok := range toks {
		tok.Wait()
	}

	got.Store(0)
	target.Store(int64(b.N * perMsg))
	s2, err := New(opts, handler)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	cpu0 := processCPU()
	runSubscriber(b, s2)
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("got %d of %d samples", got.Load(), b.N*perMsg)
	}
	for s2.Stats().Acked < uint64(b.N) { // count the acknowledgements too
		time.Sleep(time.Millisecond)
	}
	el := time.Since(start)
	cpu := processCPU() - cpu0
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "msgs/s")
	// CPU time of this process per message: on a shared machine the
	// wall-clock rate depends on the neighbours; 1e6/cpu-us/msg is the rate
	// one free core would sustain.
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-us/msg")
	b.ReportMetric(float64(b.N*perMsg)/el.Seconds(), "samples/s")
}

// BenchmarkSubscriberDecode is the dispatcher's work per message without
// the network: topic labels (cached), flat JSON decoding, station labels.
func BenchmarkSubscriberDecode(b *testing.B) {
	s, err := New(testOptions("tcp://127.0.0.1:1883"), func(context.Context, []model.Sample, func()) {})
	if err != nil {
		b.Fatal(err)
	}
	payload := AppendJSON(nil, JSONMessage{Time: time.Unix(1795568400, 0), TimeFormat: TimeUnixS, Status: "00",
		Values: []Value{{"pm25_ugm3", 12.5}, {"pm10_ugm3", 30.1}, {"temperature_c", 28.1}, {"humidity_percent", 81}}})
	im := inMsg{msg: fakeMessage{topic: "stations/HN/HN-01", payload: payload}, sub: s.subs[1], received: recv}
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	var batch []model.Sample
	for b.Loop() {
		batch = s.decode(batch[:0], im)
		if len(batch) != 4 {
			b.Fatalf("%d samples", len(batch))
		}
	}
}

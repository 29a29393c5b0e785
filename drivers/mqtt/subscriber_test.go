package mqtt

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/quantrac/quantrac/model"
)

// makeMessages builds n messages alternating bare numbers and flat JSON
// over three stations, one sample each, with distinct values.
func makeMessages(n, offset int) (topics []string, payloads [][]byte) {
	stations := [][2]string{{"HN", "HN-01"}, {"HN", "HN-02"}, {"HP", "HP-01"}}
	for i := 0; i < n; i++ {
		st := stations[i%len(stations)]
		v := float64(offset + i)
		if i%2 == 0 {
			topics = append(topics, "stations/"+st[0]+"/"+st[1]+"/pm25_ugm3")
			payloads = append(payloads, AppendNumber(nil, v))
		} else {
			topics = append(topics, "stations/"+st[0]+"/"+st[1])
			payloads = append(payloads, AppendJSON(nil, JSONMessage{
				Time: time.Unix(1795568400, 0), TimeFormat: TimeUnixS, Status: "00",
				Values: []Value{{"temperature_c", v}},
			}))
		}
	}
	return topics, payloads
}

// checkValues checks that the samples carry exactly the values
// offset..offset+n-1 (each once) and full station labels.
func checkValues(t *testing.T, ss []model.Sample, n, offset int) {
	t.Helper()
	checkValuesDup(t, ss, n, offset, false)
}

// checkValuesDup is checkValues that may allow duplicates: around a broker
// restart an ack can be lost with the connection, and delivery is at least
// once.
func checkValuesDup(t *testing.T, ss []model.Sample, n, offset int, allowDup bool) {
	t.Helper()
	seen := make(map[int]int, n)
	for _, s := range ss {
		for _, name := range []string{model.LabelStation, model.LabelProvince, model.LabelKind} {
			if s.Labels.Get(name) == "" {
				t.Fatalf("sample %s has no %s label", s.Labels, name)
			}
		}
		seen[int(s.V)]++
	}
	var missing, dup []int
	for i := offset; i < offset+n; i++ {
		switch seen[i] {
		case 0:
			missing = append(missing, i)
		case 1:
		default:
			dup = append(dup, i)
		}
	}
	if allowDup {
		dup = nil
	}
	if len(missing) > 0 || len(dup) > 0 || (!allowDup && len(ss) != n) {
		t.Fatalf("%d samples for %d messages; missing %d (first %v), duplicated %d", len(ss), n, len(missing), first(missing), len(dup))
	}
}

func first(xs []int) []int {
	if len(xs) > 5 {
		return xs[:5]
	}
	return xs
}

func test10000(t *testing.T, broker, user, password string) {
	opts := testOptions(broker)
	opts.Username, opts.Password = user, password
	col := newCollector(false)
	s, err := New(opts, col.handle)
	if err != nil {
		t.Fatal(err)
	}
	stop := runSubscriber(t, s)
	waitConnected(t, s, 1)

	const n = 10000
	topics, payloads := makeMessages(n, 0)
	pubUserName, pubPass := "", ""
	if user != "" {
		pubUserName, pubPass = pubUser, pubPassword
	}
	newPublisher(t, broker, pubUserName, pubPass).publishAll(t, topics, payloads)
	col.waitFor(t, n, 60*time.Second)
	time.Sleep(100 * time.Millisecond) // anything extra would show up now
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	col.mu.Lock()
	checkValues(t, col.samples, n, 0)
	col.mu.Unlock()
	st := s.Stats()
	if st.Received != n || st.Acked != n || st.Malformed != 0 || st.InFlight != 0 {
		t.Errorf("stats %+v", st)
	}
	t.Logf("stats %+v", st)
}

func TestSubscriber10000Mochi(t *testing.T) {
	test10000(t, startMochi(t), testUser, testPassword)
}

func TestSubscriber10000Mosquitto(t *testing.T) {
	test10000(t, startMosquitto(t).url(), "", "")
}

func TestSubscriberRefusedAuth(t *testing.T) {
	broker := startMochi(t)
	opts := testOptions(broker)
	opts.Username, opts.Password = testUser, "wrong"
	s, err := New(opts, newCollector(false).handle)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	runErr := s.Run(ctx)
	if !errors.Is(runErr, ErrRefused) || !strings.Contains(runErr.Error(), "user collector") {
		t.Fatalf("Run error %v; want a refusal naming the user", runErr)
	}
	t.Logf("refusal: %v", runErr)
}

func TestSubscriberMalformedDoesNotBlock(t *testing.T) {
	broker := startMochi(t)
	opts := testOptions(broker)
	opts.Username, opts.Password = testUser, testPassword
	opts.MaxPayload = 1024
	col := newCollector(false)
	s, err := New(opts, col.handle)
	if err != nil {
		t.Fatal(err)
	}
	runSubscriber(t, s)
	waitConnected(t, s, 1)

	var topics []string
	var payloads [][]byte
	good := 0
	add := func(topic, payload string, isGood bool) {
		topics = append(topics, topic)
		payloads = append(payloads, []byte(payload))
		if isGood {
			good++
		}
	}
	for i := 0; i < 20; i++ {
		add("stations/HN/HN-01/pm25_ugm3", fmt.Sprint(i), true)
		add("stations/HN/HN-01/pm25_ugm3", "not a number", false)
		add("stations/HN/HN-01", `{"pm25_ugm3":`, false)                               // broken JSON
		add("stations/HN/HN-01", "{\"pm25_ugm3\":1,\"\xff\":2}", false)                // invalid UTF-8
		add("stations/HN/HN-01", `{"pm25_ugm3":"x","pm10_ugm3":[1]}`, false)           // wrong types
		add("stations/HN/HN-01", `{"pm10_ugm3":`+strings.Repeat("1", 2000)+`}`, false) // too big
		add("stations/HN/UNKNOWN/pm25_ugm3", "1", false)                               // not in the station table
		add("senml/HN/HN-02", `[{"n":"pm10_ugm3","v":`+fmt.Sprint(i)+`}]`, true)
		add("stations/HN/HN-02", `{"time":"bad","pm10_ugm3":`+fmt.Sprint(i)+`}`, true) // kept, flagged bad_time
	}
	newPublisher(t, broker, pubUser, pubPassword).publishAll(t, topics, payloads)
	col.waitFor(t, good, 30*time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for s.Stats().Acked < uint64(len(topics)) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	st := s.Stats()
	if st.Received != uint64(len(topics)) || st.Acked != uint64(len(topics)) || st.Malformed != 7*20 || st.Dropped != 20 {
		t.Errorf("stats %+v; want %d received and acked, %d malformed, 20 dropped", st, len(topics), 7*20)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	if len(col.samples) != good {
		t.Errorf("%d samples, want %d", len(col.samples), good)
	}
	badTime := 0
	for _, smp := range col.samples {
		if smp.Q.Has(model.QualityBadTime) {
			badTime++
		}
	}
	if badTime != 20 {
		t.Errorf("%d samples flagged bad_time, want 20", badTime)
	}
}

// testRedelivery: a subscriber that never acks is stopped; a new one with
// the same client id gets the same messages again.
func testRedelivery(t *testing.T, broker, user, password, pubU, pubP string) {
	opts := testOptions(broker)
	opts.Username, opts.Password = user, password
	colA := newCollector(true)
	a, err := New(opts, colA.handle)
	if err != nil {
		t.Fatal(err)
	}
	stopA := runSubscriber(t, a)
	waitConnected(t, a, 1)
	const n = 100
	topics, payloads := makeMessages(n, 0)
	newPublisher(t, broker, pubU, pubP).publishAll(t, topics, payloads)
	colA.waitFor(t, n, 30*time.Second)
	if err := stopA(); err != nil { // killed before ack
		t.Fatal(err)
	}
	if st := a.Stats(); st.Acked != 0 {
		t.Fatalf("first subscriber acked %d", st.Acked)
	}

	colB := newCollector(false)
	b, err := New(opts, colB.handle) // same client id: same session
	if err != nil {
		t.Fatal(err)
	}
	runSubscriber(t, b)
	colB.waitFor(t, n, 30*time.Second)
	time.Sleep(200 * time.Millisecond)
	colB.mu.Lock()
	defer colB.mu.Unlock()
	checkValues(t, colB.samples, n, 0)
}

func TestSubscriberRedeliveryMosquitto(t *testing.T) {
	testRedelivery(t, startMosquitto(t).url(), "", "", "", "")
}

func TestSubscriberRedeliveryMochi(t *testing.T) {
	testRedelivery(t, startMochi(t), testUser, testPassword, pubUser, pubPassword)
}

func TestSubscriberBrokerRestartMosquitto(t *testing.T) {
	m := startMosquitto(t)
	opts := testOptions(m.url())
	col := newCollector(false)
	s, err := New(opts, col.handle)
	if err != nil {
		t.Fatal(err)
	}
	runSubscriber(t, s)
	waitConnected(t, s, 1)
	pub := newPublisher(t, m.url(), "", "")
	topics, payloads := makeMessages(50, 0)
	pub.publishAll(t, topics, payloads)
	col.waitFor(t, 50, 30*time.Second)

	m.restart()
	// The session (our subscriptions) survives in mosquitto's persistence
	// file; we reconnect by ourselves.
	waitConnected(t, s, 2)
	topics, payloads = makeMessages(50, 50)
	pub.publishAll(t, topics, payloads)
	col.waitFor(t, 100, 30*time.Second)
	time.Sleep(200 * time.Millisecond)
	col.mu.Lock()
	checkValuesDup(t, col.samples, 100, 0, true)
	// Messages delivered but not acknowledged when the broker goes down
	// are in its persistence file and come again after the restart.
	col.noAck = true
	n0 := len(col.samples)
	col.mu.Unlock()
	topics, payloads = makeMessages(20, 100)
	pub.publishAll(t, topics, payloads)
	col.waitFor(t, n0+20, 30*time.Second)
	col.mu.Lock()
	col.noAck = false
	col.mu.Unlock()
	m.restart()
	waitConnected(t, s, 3)
	col.waitFor(t, n0+40, 30*time.Second)
	col.mu.Lock()
	defer col.mu.Unlock()
	checkValuesDup(t, col.samples[n0+20:], 20, 100, true)
}

func TestSubscriberMaxInFlightHoldsBack(t *testing.T) {
	broker := startMochi(t)
	opts := testOptions(broker)
	opts.Username, opts.Password = testUser, testPassword
	opts.MaxInFlight = 5
	col := newCollector(true) // hold acks so that the cap is reached
	s, err := New(opts, col.handle)
	if err != nil {
		t.Fatal(err)
	}
	runSubscriber(t, s)
	waitConnected(t, s, 1)
	const n = 40
	topics, payloads := makeMessages(n, 0)
	newPublisher(t, broker, pubUser, pubPassword).publishAll(t, topics, payloads)
	col.waitFor(t, opts.MaxInFlight, 30*time.Second)
	time.Sleep(200 * time.Millisecond)
	if got := col.count(); got != opts.MaxInFlight {
		t.Fatalf("%d samples handed over with acks held; want the cap %d", got, opts.MaxInFlight)
	}
	if st := s.Stats(); st.Throttled == 0 || st.InFlight != int64(opts.MaxInFlight) {
		t.Fatalf("stats %+v: want throttling at the cap", st)
	}
	// Ack whatever arrives until everything is in.
	deadline := time.Now().Add(60 * time.Second)
	for col.count() < n {
		col.mu.Lock()
		acks := col.acks
		col.acks = nil
		col.mu.Unlock()
		for _, ack := range acks {
			ack()
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d of %d; stats %+v", col.count(), n, s.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	checkValues(t, col.samples, n, 0)
	t.Logf("stats %+v", s.Stats())
}

func TestNewRejectsBadOptions(t *testing.T) {
	h := newCollector(false).handle
	good := testOptions("tcp://127.0.0.1:1883")
	for name, mutate := range map[string]func(o *Options){
		"no broker":    func(o *Options) { o.Brokers = nil },
		"bad scheme":   func(o *Options) { o.Brokers = []string{"http://x:1"} },
		"no client id": func(o *Options) { o.ClientID = "" },
		"no subs":      func(o *Options) { o.Subscriptions = nil },
		"bad template": func(o *Options) { o.Subscriptions = []Subscription{{Topic: "a/{b", Format: FormatJSON}} },
		"bad format":   func(o *Options) { o.Subscriptions = []Subscription{{Topic: "a", Format: "xml"}} },
		"no mapping":   func(o *Options) { o.Subscriptions = []Subscription{{Topic: "a", Format: FormatJSONPath}} },
		"dup filter": func(o *Options) {
			o.Subscriptions = []Subscription{{Topic: "a/{x}", Format: FormatJSON}, {Topic: "a/{y}", Format: FormatSenML}}
		},
		"bad label":  func(o *Options) { o.Subscriptions[0].Labels = map[string]string{"bad-name": "x"} },
		"bad rename": func(o *Options) { o.Subscriptions[0].Rename = map[string]string{"PM2.5": "pm2.5"} },
		"qos 2":      func(o *Options) { q := byte(2); o.QoS = &q },
	} {
		o := good
		o.Subscriptions = defaultTestSubscriptions()
		mutate(&o)
		if _, err := New(o, h); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
	if _, err := New(good, nil); err == nil {
		t.Error("nil handler: want an error")
	}
}

func TestSubscriptionLabelsAndStationTable(t *testing.T) {
	opts := testOptions("tcp://127.0.0.1:1883")
	opts.Subscriptions = []Subscription{{Topic: "air/{station}", Format: FormatJSON, Labels: map[string]string{"kind": "air", "province": "DN"}}}
	s, err := New(opts, newCollector(false).handle)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, tc := range []struct{ topic, payload string }{
		{"air/DN-07", `{"pm25_ugm3":1}`}, // not in the table: subscription labels
		{"air/HP-01", `{"pm25_ugm3":2}`}, // in the table: its province wins over the default? no: table fills only what is missing
	} {
		ss := s.decode(nil, inMsg{msg: fakeMessage{topic: tc.topic, payload: []byte(tc.payload)}, sub: s.subs[0], received: recv})
		for _, smp := range ss {
			out = append(out, smp.Labels.String())
		}
	}
	sort.Strings(out)
	want := `pm25_ugm3{kind="air",province="DN",station="DN-07"} pm25_ugm3{kind="air",province="DN",station="HP-01"}`
	if got := strings.Join(out, " "); got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
}

// fakeMessage is a paho.Message for dispatcher unit tests.
type fakeMessage struct {
	topic   string
	payload []byte
}

func (m fakeMessage) Duplicate() bool   { return false }
func (m fakeMessage) Qos() byte         { return 1 }
func (m fakeMessage) Retained() bool    { return false }
func (m fakeMessage) Topic() string     { return m.topic }
func (m fakeMessage) MessageID() uint16 { return 1 }
func (m fakeMessage) Payload() []byte   { return m.payload }
func (m fakeMessage) Ack()              {}

// TestSubscriberShareGroupMosquitto: two collectors in one share group
// split the messages; together they get each exactly once.
func TestSubscriberShareGroupMosquitto(t *testing.T) {
	m := startMosquitto(t)
	var cols []*collector
	var subs []*Subscriber
	for i := 0; i < 2; i++ {
		opts := testOptions(m.url())
		opts.ClientID = fmt.Sprintf("%s-%d", opts.ClientID, i)
		opts.ShareGroup = "collectors"
		col := newCollector(false)
		s, err := New(opts, col.handle)
		if err != nil {
			t.Fatal(err)
		}
		runSubscriber(t, s)
		waitConnected(t, s, 1)
		cols, subs = append(cols, col), append(subs, s)
	}
	const n = 1000
	topics, payloads := makeMessages(n, 0)
	newPublisher(t, m.url(), "", "").publishAll(t, topics, payloads)
	deadline := time.Now().Add(30 * time.Second)
	for cols[0].count()+cols[1].count() < n && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	var all []model.Sample
	for i, c := range cols {
		c.mu.Lock()
		all = append(all, c.samples...)
		if len(c.samples) == 0 {
			t.Errorf("collector %d got nothing", i)
		}
		c.mu.Unlock()
	}
	checkValues(t, all, n, 0)
}

func TestSubscriberRefusedSubscriptionMochi(t *testing.T) {
	broker := startMochi(t)
	opts := testOptions(broker)
	opts.Username, opts.Password = testUser, testPassword
	opts.Subscriptions = append(defaultTestSubscriptions(), Subscription{Topic: "private/{station}", Format: FormatJSON})
	col := newCollector(false)
	s, err := New(opts, col.handle)
	if err != nil {
		t.Fatal(err)
	}
	runSubscriber(t, s)
	waitConnected(t, s, 1)
	if st := s.Stats(); st.SubscribeFailures != 1 {
		t.Errorf("stats %+v: want the private/+ subscription refused", st)
	}
	// The allowed ones work.
	newPublisher(t, broker, pubUser, pubPassword).publishAll(t, []string{"stations/HN/HN-01/pm25_ugm3"}, [][]byte{[]byte("1")})
	col.waitFor(t, 1, 10*time.Second)
}

package simulator

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

type received struct {
	topic   string
	payload string
	at      time.Time
}

// subscriber connects to the simulator's broker and records messages.
type subscriber struct {
	c    paho.Client
	mu   sync.Mutex
	msgs []received
}

func newSubscriber(t *testing.T, url, user, pass string, filters ...string) *subscriber {
	t.Helper()
	s := &subscriber{}
	o := paho.NewClientOptions().AddBroker(url).SetClientID(fmt.Sprintf("test-%d", time.Now().UnixNano())).
		SetUsername(user).SetPassword(pass).SetAutoReconnect(true).SetConnectRetryInterval(100 * time.Millisecond).
		SetMaxReconnectInterval(200 * time.Millisecond).SetCleanSession(true)
	handler := func(_ paho.Client, m paho.Message) {
		s.mu.Lock()
		s.msgs = append(s.msgs, received{m.Topic(), string(m.Payload()), time.Now()})
		s.mu.Unlock()
	}
	o.SetOnConnectHandler(func(c paho.Client) {
		for _, f := range filters {
			c.Subscribe(f, 1, handler)
		}
	})
	s.c = paho.NewClient(o)
	tok := s.c.Connect()
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s as %s: %v", url, user, tok.Error())
	}
	t.Cleanup(func() { s.c.Disconnect(100) })
	return s
}

func (s *subscriber) take() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.msgs
	s.msgs = nil
	return out
}

// waitFor waits until cond holds on the messages seen so far.
func (s *subscriber) waitFor(t *testing.T, d time.Duration, cond func([]received) bool) []received {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		ok := cond(s.msgs)
		s.mu.Unlock()
		if ok {
			return s.take()
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("condition not met within %s", d)
	return nil
}

const mqttScenario = `
seed: 9
speed: 60
interval: 250ms
stations:
  - {id: M-Json, kind: air, province: HN, transport: mqtt, format: json}
  - {id: M-JsonUnix, kind: weather, province: HN, transport: mqtt, format: json, time_format: unix_ms}
  - {id: M-Senml, kind: hydrological, province: HP, transport: mqtt, format: senml}
  - {id: M-Num, kind: weather, province: BN, transport: mqtt, format: number}
`

func countStations(ms []received) map[string]int {
	out := map[string]int{}
	for _, m := range ms {
		parts := strings.Split(m.topic, "/")
		if len(parts) >= 3 {
			out[parts[2]]++
		}
	}
	return out
}

func checkMessage(t *testing.T, sim *Simulator, m received) {
	t.Helper()
	parts := strings.Split(m.topic, "/")
	id := parts[2]
	switch {
	case parts[0] == "stations" && len(parts) == 4: // number
		v, err := strconv.ParseFloat(m.payload, 64)
		if err != nil {
			t.Errorf("%s: %q: %v", m.topic, m.payload, err)
			return
		}
		// No timestamp in the payload: the step it was received in, or the
		// one before.
		for _, at := range []time.Time{m.at, m.at.Add(-250 * time.Millisecond)} {
			if rd, _ := sim.Truth(id, parts[3], at); rd.OK && *rd.V == v {
				return
			}
		}
		t.Errorf("%s: %v is not the truth near %s", m.topic, v, m.at)
	case parts[0] == "stations": // flat JSON
		var obj map[string]any
		if err := json.Unmarshal([]byte(m.payload), &obj); err != nil {
			t.Errorf("%s: %q: %v", m.topic, m.payload, err)
			return
		}
		var at time.Time
		switch tv := obj["time"].(type) {
		case string:
			var err error
			if at, err = time.Parse(time.RFC3339Nano, tv); err != nil || !strings.HasSuffix(tv, "+07:00") {
				t.Errorf("%s: time %q: %v", m.topic, tv, err)
			}
		case float64:
			at = time.UnixMilli(int64(tv))
		}
		if obj["status"] != "00" {
			t.Errorf("%s: status %v", m.topic, obj["status"])
		}
		n := 0
		for k, v := range obj {
			if k == "time" || k == "status" {
				continue
			}
			rd, err := sim.Truth(id, k, at)
			if err != nil || !rd.OK || *rd.V != v.(float64) {
				t.Errorf("%s %s at %s: %v, truth %+v (%v)", m.topic, k, at, v, rd, err)
			}
			n++
		}
		if n == 0 {
			t.Errorf("%s: no values in %s", m.topic, m.payload)
		}
	case parts[0] == "senml":
		var recs []map[string]any
		if err := json.Unmarshal([]byte(m.payload), &recs); err != nil || len(recs) == 0 {
			t.Errorf("%s: %q: %v", m.topic, m.payload, err)
			return
		}
		if recs[0]["bn"] != id+":" {
			t.Errorf("%s: bn %v", m.topic, recs[0]["bn"])
		}
		bt := recs[0]["bt"].(float64)
		at := time.UnixMilli(int64(math.Round(bt * 1000)))
		for _, r := range recs {
			name := r["n"].(string)
			rd, err := sim.Truth(id, name, at)
			if err != nil || !rd.OK || *rd.V != r["v"].(float64) || r["u"] != params[name].Unit {
				t.Errorf("%s %s at %s: %v %v, truth %+v (%v)", m.topic, name, at, r["v"], r["u"], rd, err)
			}
		}
	default:
		t.Errorf("unexpected topic %s", m.topic)
	}
}

func TestMQTTFormatsMatchTruth(t *testing.T) {
	sim := startTest(t, mqttScenario)
	sub := newSubscriber(t, sim.BrokerURL(), "collector", "collector-secret", "stations/#", "senml/#")
	msgs := sub.waitFor(t, 10*time.Second, func(ms []received) bool {
		c := countStations(ms)
		return c["M-Json"] >= 3 && c["M-JsonUnix"] >= 3 && c["M-Senml"] >= 3 && c["M-Num"] >= 3*6
	})
	for _, m := range msgs {
		checkMessage(t, sim, m)
	}
	t.Logf("%d messages checked against the truth", len(msgs))
}

func TestMQTTBrokerAuthAndACL(t *testing.T) {
	sim := startTest(t, mqttScenario)
	url := sim.BrokerURL()
	connect := func(user, pass string) error {
		c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("acl-" + user).SetUsername(user).SetPassword(pass).SetConnectTimeout(2 * time.Second))
		tok := c.Connect()
		tok.WaitTimeout(3 * time.Second)
		if tok.Error() == nil {
			c.Disconnect(50)
		}
		return tok.Error()
	}
	if err := connect("collector", "wrong"); err == nil {
		t.Error("wrong password accepted")
	}
	if err := connect("nobody", ""); err == nil {
		t.Error("anonymous client accepted")
	}
	if err := connect("collector", "collector-secret"); err != nil {
		t.Errorf("collector refused: %v", err)
	}
	subscribe := func(user, pass, filter string) byte {
		c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("sub-" + user).SetUsername(user).SetPassword(pass))
		if tok := c.Connect(); !tok.WaitTimeout(3*time.Second) || tok.Error() != nil {
			t.Fatalf("connect %s: %v", user, tok.Error())
		}
		defer c.Disconnect(50)
		tok := c.Subscribe(filter, 1, nil)
		tok.WaitTimeout(3 * time.Second)
		return tok.(*paho.SubscribeToken).Result()[filter]
	}
	if q := subscribe("collector", "collector-secret", "stations/#"); q >= 0x80 {
		t.Errorf("collector stations/#: refused (0x%x)", q)
	}
	if q := subscribe("collector", "collector-secret", "#"); q < 0x80 {
		t.Errorf("collector #: granted qos %d, want refused by the final deny", q)
	}
	if q := subscribe("collector", "collector-secret", "$SYS/#"); q < 0x80 {
		t.Errorf("collector $SYS/#: granted qos %d, want refused", q)
	}
	if q := subscribe("station", "station-secret", "stations/#"); q < 0x80 {
		t.Errorf("station user reading stations/#: granted qos %d, want refused (write only)", q)
	}
}

func TestMQTTFaults(t *testing.T) {
	sim := startTest(t, mqttScenario)
	sub := newSubscriber(t, sim.BrokerURL(), "collector", "collector-secret", "stations/#", "senml/#")
	sub.waitFor(t, 10*time.Second, func(ms []received) bool { return countStations(ms)["M-Json"] >= 1 })

	// Duplicates: every JSON message twice.
	sim.AddFault(Fault{Station: "M-Json", Kind: FaultDuplicate}, 0)
	time.Sleep(300 * time.Millisecond)
	sub.take()
	ms := sub.waitFor(t, 10*time.Second, func(ms []received) bool { return countStations(ms)["M-Json"] >= 6 })
	seen := map[string]int{}
	for _, m := range ms {
		if strings.HasSuffix(m.topic, "/M-Json") {
			seen[m.payload]++
		}
	}
	dups := 0
	for _, n := range seen {
		if n >= 2 {
			dups++
		}
	}
	if dups == 0 {
		t.Errorf("duplicate fault: no payload seen twice in %d messages", len(ms))
	}
	sim.StopFault("M-Json", FaultDuplicate, 0)

	// Malformed payloads: not JSON, and the truth says no sample.
	sim.AddFault(Fault{Station: "M-Senml", Kind: FaultMalformed}, 0)
	time.Sleep(300 * time.Millisecond)
	sub.take()
	ms = sub.waitFor(t, 10*time.Second, func(ms []received) bool { return countStations(ms)["M-Senml"] >= 3 })
	for _, m := range ms {
		if !strings.HasPrefix(m.topic, "senml/") {
			continue
		}
		var recs []map[string]any
		if json.Unmarshal([]byte(m.payload), &recs) == nil && len(recs) > 0 {
			t.Errorf("malformed fault: valid SenML %q", m.payload)
		}
	}
	if rd, _ := sim.Truth("M-Senml", "water_level_m", time.Now()); rd.OK {
		t.Errorf("malformed: truth %+v, want no sample", rd)
	}
	sim.StopFault("M-Senml", FaultMalformed, 0)

	// Clock skew: JSON time 5 minutes ahead, the truth says so.
	sim.AddFault(Fault{Station: "M-JsonUnix", Kind: FaultClockSkew, Skew: 5 * time.Minute}, 0)
	time.Sleep(300 * time.Millisecond)
	sub.take()
	ms = sub.waitFor(t, 10*time.Second, func(ms []received) bool { return countStations(ms)["M-JsonUnix"] >= 2 })
	for _, m := range ms {
		if !strings.HasSuffix(m.topic, "/M-JsonUnix") {
			continue
		}
		var obj map[string]any
		json.Unmarshal([]byte(m.payload), &obj)
		ts := time.UnixMilli(int64(obj["time"].(float64)))
		if d := ts.Sub(m.at); d < 4*time.Minute || d > 6*time.Minute {
			t.Errorf("clock skew: stamp %s is %s from receipt", ts, d)
		}
	}
	sim.StopFault("M-JsonUnix", FaultClockSkew, 0)

	// Broker restart: the subscriber loses the broker and gets messages
	// again once it is back.
	sim.AddFault(Fault{Kind: FaultBrokerRestart}, 2*time.Second)
	for deadline := time.Now().Add(2 * time.Second); sim.Stats().BrokerUp && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if sim.Stats().BrokerUp {
		t.Error("broker restart: broker never went down")
	}
	sub.take()
	sub.waitFor(t, 15*time.Second, func(ms []received) bool { return countStations(ms)["M-Json"] >= 2 })
	if !sim.Stats().BrokerUp {
		t.Error("broker restart: broker not back")
	}

	// Offline: nothing from the station.
	sim.AddFault(Fault{Station: "M-Num", Kind: FaultOffline}, 0)
	time.Sleep(400 * time.Millisecond)
	sub.take()
	ms = sub.waitFor(t, 10*time.Second, func(ms []received) bool { return countStations(ms)["M-Json"] >= 4 })
	// At most one step published before the fault may still arrive.
	if n := countStations(ms)["M-Num"]; n > len(defaultParams["weather"]) {
		t.Errorf("offline: %d messages from M-Num", n)
	}
}

func TestMQTTOutOfOrder(t *testing.T) {
	sim := startTest(t, mqttScenario)
	sub := newSubscriber(t, sim.BrokerURL(), "collector", "collector-secret", "stations/HN/M-JsonUnix")
	sim.AddFault(Fault{Station: "M-JsonUnix", Kind: FaultOutOfOrder}, 0)
	ms := sub.waitFor(t, 10*time.Second, func(ms []received) bool { return len(ms) >= 6 })
	back := 0
	var prev int64
	for _, m := range ms {
		var obj map[string]any
		json.Unmarshal([]byte(m.payload), &obj)
		ts := int64(obj["time"].(float64))
		if ts < prev {
			back++
		}
		prev = ts
	}
	if back == 0 {
		t.Errorf("out of order: %d messages all in order", len(ms))
	}
}

func TestMQTTStationClients(t *testing.T) {
	sim := startTest(t, strings.Replace(mqttScenario, "seed: 9", "seed: 9\nmqtt: {station_clients: true}", 1))
	sub := newSubscriber(t, sim.BrokerURL(), "collector", "collector-secret", "stations/#", "senml/#")
	msgs := sub.waitFor(t, 10*time.Second, func(ms []received) bool {
		c := countStations(ms)
		return c["M-Json"] >= 2 && c["M-Senml"] >= 2 && c["M-Num"] >= 12
	})
	for _, m := range msgs {
		checkMessage(t, sim, m)
	}
	// Each station reconnects after a broker restart.
	sim.AddFault(Fault{Kind: FaultBrokerRestart}, time.Second)
	for deadline := time.Now().Add(3 * time.Second); sim.Stats().BrokerUp && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	sub.take()
	sub.waitFor(t, 20*time.Second, func(ms []received) bool {
		c := countStations(ms)
		return c["M-Json"] >= 2 && c["M-Senml"] >= 2 && c["M-JsonUnix"] >= 2
	})
}

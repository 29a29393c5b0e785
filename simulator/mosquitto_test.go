package simulator

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestExternalMosquittoIntegration publishes to a real mosquitto broker
// instead of the embedded one.
func TestExternalMosquittoIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		t.Skip("mosquitto not installed")
	}
	port, err := freePort("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "mosquitto.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n", port)), 0o644)
	cmd := exec.Command(bin, "-c", conf)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if i > 100 {
			t.Fatalf("mosquitto did not listen on %s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	sim := startTest(t, strings.Replace(mqttScenario, "seed: 9", "seed: 9\nmqtt: {url: tcp://"+addr+"}", 1))
	if sim.BrokerURL() != "tcp://"+addr || sim.Stats().BrokerUp {
		t.Fatalf("broker %s (embedded up %v), want the external one", sim.BrokerURL(), sim.Stats().BrokerUp)
	}
	sub := newSubscriber(t, "tcp://"+addr, "anyone", "x", "stations/#", "senml/#")
	msgs := sub.waitFor(t, 10*time.Second, func(ms []received) bool {
		c := countStations(ms)
		return c["M-Json"] >= 2 && c["M-Senml"] >= 2
	})
	for _, m := range msgs {
		checkMessage(t, sim, m)
	}
}

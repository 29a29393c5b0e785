// Command simulator runs a province of fake monitoring stations (Modbus TCP
// servers, MQTT publishers, TXT dataloggers) from a scenario file, prints
// where each station listens and a status line, and serves an HTTP control
// endpoint for the ground truth and faults.
//
//	go run ./cmd/simulator -scenario configs/demo/scenario.yaml
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"

	"github.com/quantrac/quantrac/simulator"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "simulator:", err)
		stop()
		os.Exit(1)
	}
}

// run starts the simulator and returns when ctx ends (Ctrl-C).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("simulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	scenarioPath := fs.String("scenario", "configs/demo/scenario.yaml", "scenario YAML file")
	beijing := fs.String("beijing", "", "directory of Beijing air-quality CSV files to replay (overrides the scenario)")
	emit := fs.String("emit-collector-config", "", "write a collector config listing every station to this path")
	sinkURL := fs.String("sink-url", "http://127.0.0.1:8080", "sink URL written into the emitted collector config")
	sinkToken := fs.String("sink-token", "", "sink token written into the emitted collector config")
	control := fs.String("control", "", "control endpoint host:port (overrides the scenario; - disables)")
	mqttListen := fs.String("mqtt-listen", "", "embedded MQTT broker host:port (overrides the scenario)")
	mqttURL := fs.String("mqtt-url", "", "publish to this external broker instead, e.g. tcp://127.0.0.1:1883")
	spool := fs.String("spool", "", "TXT spool directory (overrides the scenario)")
	speed := fs.Float64("speed", 0, "simulated seconds per wall second (overrides the scenario)")
	basePort := fs.Int("modbus-base-port", -1, "first Modbus TCP port (overrides the scenario; 0: free ports)")
	statusEvery := fs.Duration("status", 10*time.Second, "status line interval (0: none)")
	listMax := fs.Int("list", 60, "print at most this many stations at start (-1: all)")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (flags start with -)", fs.Arg(0))
	}
	lvl, err := zerolog.ParseLevel(*level)
	if err != nil || *level == "" {
		return fmt.Errorf("-log-level %q: want debug, info, warn or error", *level)
	}
	if *speed < 0 || *speed > 1e6 {
		return fmt.Errorf("-speed %g: want simulated seconds per wall second, 0 < speed <= 1e6 (0: the scenario's)", *speed)
	}
	if *basePort > 65535 || *basePort < -1 {
		return fmt.Errorf("-modbus-base-port %d: want a port 1..65535, or 0 for free ports", *basePort)
	}
	if *statusEvery < 0 {
		return fmt.Errorf("-status %s: want a positive interval, or 0 for no status line", *statusEvery)
	}
	log := zerolog.New(zerolog.ConsoleWriter{Out: stderr, TimeFormat: time.TimeOnly}).Level(lvl).With().Timestamp().Logger()

	sc, err := simulator.LoadScenario(*scenarioPath)
	if err != nil {
		return err
	}
	opts := simulator.DefaultOptions()
	opts.Logger = log
	opts.BeijingDir = *beijing
	opts.ControlListen = *control
	opts.MQTTListen = *mqttListen
	opts.MQTTURL = *mqttURL
	if *spool != "" {
		// A flag is relative to the working directory, not to the scenario
		// file (the scenario's own txt.spool is relative to the file).
		abs, err := filepath.Abs(*spool)
		if err != nil {
			return fmt.Errorf("-spool %s: %w", *spool, err)
		}
		opts.Spool = abs
	}
	opts.Speed = *speed
	if *basePort >= 0 {
		opts.ModbusBasePort = basePort
	}

	t0 := time.Now()
	sim, err := simulator.Start(ctx, sc, opts)
	if err != nil {
		return err
	}
	defer sim.Stop()
	startup := time.Since(t0)

	if *emit != "" {
		err := sim.WriteCollectorConfig(simulator.CollectorConfigOptions{Path: *emit, SinkURL: *sinkURL, SinkToken: *sinkToken})
		if err != nil {
			return err
		}
		log.Info().Str("path", *emit).Msg("collector config written")
	}
	printStations(stdout, sim, *listMax)
	st := sim.Stats()
	fmt.Fprintf(stdout, "\n%d stations (%d modbus on %d ports, %d mqtt, %d txt) started in %s; seed %d, speed %gx\n",
		st.Stations, st.ModbusStations, st.ModbusPorts, st.MQTTStations, st.TXTStations, startup.Round(time.Millisecond), sc.Seed, sc.Speed)
	if u := sim.BrokerURL(); u != "" && st.MQTTStations > 0 {
		fmt.Fprintf(stdout, "mqtt broker %s (stations publish as %s; read with", u, sc.MQTT.Username)
		for _, us := range sc.MQTT.Users {
			fmt.Fprintf(stdout, " %s/%s", us.Username, us.Password)
		}
		fmt.Fprintln(stdout, ")")
	}
	if st.TXTStations > 0 {
		fmt.Fprintf(stdout, "txt spool %s\n", sim.Spool())
	}
	if a := sim.ControlAddr(); a != "" {
		fmt.Fprintf(stdout, "control http://%s  (GET /stations, GET /truth, POST /faults, GET /stats)\n", a)
	}

	var tick <-chan time.Time
	if *statusEvery > 0 {
		t := time.NewTicker(*statusEvery)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(stdout, "stopping")
			sim.Stop()
			return nil
		case <-sim.Done():
			return nil
		case <-tick:
			fmt.Fprintln(stdout, statusLine(sim))
		}
	}
}

func printStations(w io.Writer, sim *simulator.Simulator, max int) {
	sts := sim.Stations()
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STATION\tKIND\tTRANSPORT\tWHERE\tNAME")
	for i, s := range sts {
		if max >= 0 && i >= max {
			fmt.Fprintf(tw, "... %d more (GET /stations)\t\t\t\t\n", len(sts)-max)
			break
		}
		where := ""
		switch s.Transport {
		case simulator.TransportModbus:
			where = fmt.Sprintf("%s unit %d map %s", s.Address, s.UnitID, shortMap(s.Map))
		case simulator.TransportMQTT:
			where = fmt.Sprintf("%s (%s)", s.Topic, s.Format)
		case simulator.TransportTXT:
			where = fmt.Sprintf("%s/%s_%s_%s_*.txt", s.Spool, s.Province, s.Facility, s.ID)
		}
		extra := ""
		if s.Replay != "" {
			extra = " [replay " + s.Replay + "]"
		}
		if s.Flood != nil {
			extra = fmt.Sprintf(" [flood to %.2f m, alarm levels %v]", s.Flood.Peak, s.Flood.Levels)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s%s\n", s.ID, s.Kind, s.Transport, where, s.Name, extra)
	}
	tw.Flush()
}

func shortMap(p string) string {
	if i := strings.LastIndex(p, "/"); i >= 0 {
		return p[i+1:]
	}
	return p
}

// statusLine summarises counters and the flood stations' levels.
func statusLine(sim *simulator.Simulator) string {
	st := sim.Stats()
	var b strings.Builder
	fmt.Fprintf(&b, "%s modbus req %d (exc %d, drops %d) | mqtt msgs %d (err %d, broker up %v) | txt files %d | faults %d",
		time.Now().Format(time.TimeOnly), st.ModbusRequests, st.ModbusExceptions, st.ModbusDrops,
		st.MQTTMessages, st.MQTTErrors, st.BrokerUp, st.TXTFiles, st.ActiveFaults)
	var floods []string
	now := time.Now()
	for _, s := range sim.Stations() {
		if s.Flood == nil {
			continue
		}
		r, err := sim.Truth(s.ID, "water_level_m", now)
		if err != nil || !r.OK {
			continue
		}
		level := ""
		for i, l := range s.Flood.Levels {
			if *r.V >= l {
				level = " level " + strings.Repeat("I", i+1)
			}
		}
		floods = append(floods, fmt.Sprintf("%s %.2f m%s", s.ID, *r.V, level))
	}
	sort.Strings(floods)
	if len(floods) > 0 {
		b.WriteString(" | ")
		b.WriteString(strings.Join(floods, ", "))
	}
	return b.String()
}

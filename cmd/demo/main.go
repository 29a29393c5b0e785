// Command demo starts a whole department on one machine: the station
// simulator (Modbus TCP, MQTT and TXT stations, a flood at Long Biên sped
// up), a collector polling and subscribing to them, and the api with the
// embedded tsdb, alerting, the AQI job and the dashboard. Data lives in a
// temporary directory (or -data DIR) and everything stops cleanly on Ctrl-C.
//
//	go run ./cmd/demo [-http 127.0.0.1:8080] [-data DIR] [-beijing DIR] [-scenario FILE]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/quantrac/quantrac/api"
	"github.com/quantrac/quantrac/collector"
	"github.com/quantrac/quantrac/collector/wire"
	"github.com/quantrac/quantrac/simulator"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// options are the demo's flags.
type options struct {
	HTTP     string
	Data     string
	Beijing  string
	Scenario string
	Repo     string
	LogLevel string
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.HTTP, "http", "127.0.0.1:8080", "api and dashboard listen address")
	fs.StringVar(&o.Data, "data", "", "data directory (default: a new temporary directory, removed on exit)")
	fs.StringVar(&o.Beijing, "beijing", "", "directory of Beijing air-quality CSV files to replay at the air stations (default: generated signals)")
	fs.StringVar(&o.Scenario, "scenario", "configs/demo/scenario.yaml", "simulator scenario")
	fs.StringVar(&o.Repo, "repo", ".", "repository root, where configs/ is")
	fs.StringVar(&o.LogLevel, "log-level", "warn", "log level of the components: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	lvl, err := zerolog.ParseLevel(o.LogLevel)
	if err != nil || o.LogLevel == "" {
		return fmt.Errorf("-log-level %q: want debug, info, warn or error", o.LogLevel)
	}
	if err := checkInputs(o); err != nil {
		return err
	}
	log := zerolog.New(zerolog.ConsoleWriter{Out: stderr, TimeFormat: "15:04:05"}).Level(lvl).With().Timestamp().Logger()

	dataDir := o.Data
	if dataDir == "" {
		if dataDir, err = os.MkdirTemp("", "quantrac-demo-"); err != nil {
			return fmt.Errorf("create temporary data directory: %w", err)
		}
		defer os.RemoveAll(dataDir)
	}
	stack, err := startStack(ctx, stackConfig{
		Repo: o.Repo, DataDir: dataDir, HTTP: o.HTTP, Scenario: o.Scenario, Beijing: o.Beijing, Log: log, SMSOut: stdout,
	})
	if err != nil {
		return err
	}
	defer stack.Stop()

	fmt.Fprintf(stdout, "\nquantrac demo is running (data in %s)\n", dataDir)
	fmt.Fprintf(stdout, "  dashboard:       %s/?token=%s\n", stack.URL, stack.ViewerToken)
	fmt.Fprintf(stdout, "  viewer token:    %s   (read-only, for the IOC)\n", stack.ViewerToken)
	fmt.Fprintf(stdout, "  operator token:  %s   (acknowledge and silence alerts: %s/?token=%s)\n", stack.OperatorToken, stack.URL, stack.OperatorToken)
	fmt.Fprintf(stdout, "  simulator:       http://%s/stations (ground truth and faults)\n", stack.Sim.ControlAddr())
	fmt.Fprintf(stdout, "  MQTT broker:     %s\n", stack.Sim.BrokerURL())
	fmt.Fprintf(stdout, "  SMS centre:      smpp://%s (in-process; every SMS is printed below)\n", stack.SMSC.Addr())
	fmt.Fprintf(stdout, "  try: curl -H 'Authorization: Bearer %s' '%s/api/v1/series?match=water_level_m&step=1m&agg=max'\n", stack.ViewerToken, stack.URL)
	fmt.Fprintln(stdout, "Press Ctrl-C to stop.")

	tick := time.NewTicker(15 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(stdout, "\nstopping...")
			return nil
		case <-stack.Done():
			return errors.New("a component stopped unexpectedly; see the log above")
		case <-tick.C:
			fmt.Fprintln(stdout, stack.StatusLine(ctx))
		}
	}
}

// stackConfig says where the demo stack runs.
type stackConfig struct {
	Repo     string // repository root (configs/ is read from there)
	DataDir  string
	HTTP     string
	Scenario string // relative to Repo unless absolute
	Beijing  string
	Log      zerolog.Logger
	SMSOut   io.Writer // where the console SMSC prints each SMS
}

// stack is the running simulator, collector and api.
type stack struct {
	URL           string
	ViewerToken   string
	OperatorToken string
	Sim           *simulator.Simulator
	API           *api.Server
	Collector     *collector.Collector
	SMSC          *consoleSMSC

	cancel  context.CancelFunc
	done    chan struct{}
	stopped chan struct{}
}

func (c stackConfig) path(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.Repo, p)
}

// startStack starts the api first (so the collector has somewhere to send),
// then the simulator, then the collector pointed at both.
func startStack(parent context.Context, c stackConfig) (*stack, error) {
	ctx, cancel := context.WithCancel(parent)
	s := &stack{cancel: cancel, done: make(chan struct{}), stopped: make(chan struct{})}
	fail := func(err error) (*stack, error) {
		s.Stop()
		return nil, err
	}

	// api with alerting, AQI and dashboard on the embedded tsdb.
	acfg := api.DefaultConfig()
	acfg.HTTP = c.HTTP
	acfg.DataDir = filepath.Join(c.DataDir, "api")
	acfg.Alerting.Enabled = true
	acfg.Alerting.RulesDir = c.path("configs/rules")
	if roster := c.path("configs/oncall.yaml"); fileExists(roster) {
		acfg.Alerting.Roster = roster
	}
	s.SMSC = startConsoleSMSC(c.SMSOut)
	recvPath := filepath.Join(c.DataDir, "receivers.yaml")
	if err := os.WriteFile(recvPath, []byte(receiversYAML(s.SMSC.Addr())), 0o600); err != nil {
		return fail(fmt.Errorf("write %s: %w", recvPath, err))
	}
	acfg.Alerting.Receivers = recvPath
	acfg.AQI.Enabled = true
	acfg.AQI.Interval = 20 * time.Second
	acfg.Logger = c.Log.With().Str("app", "api").Logger()
	if err := os.MkdirAll(acfg.DataDir, 0o755); err != nil {
		return fail(fmt.Errorf("create %s: %w", acfg.DataDir, err))
	}
	tokens, err := api.OpenTokenStore(acfg.DataDir)
	if err != nil {
		return fail(err)
	}
	ingestToken, err := ensureToken(tokens, "demo-collector", "ingest")
	if err != nil {
		return fail(err)
	}
	if s.ViewerToken, err = ensureToken(tokens, "demo-ioc", "viewer"); err != nil {
		return fail(err)
	}
	if s.OperatorToken, err = ensureToken(tokens, "demo-duty-officer", "operator"); err != nil {
		return fail(err)
	}
	if s.API, err = api.New(acfg); err != nil {
		return fail(fmt.Errorf("api: %w", err))
	}
	if err := s.API.Start(); err != nil {
		return fail(fmt.Errorf("api: %w", err))
	}
	s.URL = s.API.URL()

	// simulator
	sc, err := simulator.LoadScenario(c.path(c.Scenario))
	if err != nil {
		return fail(err)
	}
	sopts := simulator.DefaultOptions()
	sopts.Logger = c.Log.With().Str("app", "simulator").Logger()
	sopts.BeijingDir = c.Beijing
	sopts.Spool = filepath.Join(c.DataDir, "spool")
	sopts.ControlListen = "127.0.0.1:0"
	sopts.MQTTListen = "127.0.0.1:0"
	free := 0
	sopts.ModbusBasePort = &free
	if s.Sim, err = simulator.Start(ctx, sc, sopts); err != nil {
		return fail(fmt.Errorf("simulator: %w", err))
	}

	// a day of history, so charts and the AQI job have something to show
	n, err := backfill(ctx, s.Sim, s.API.Store())
	if err != nil {
		return fail(err)
	}
	c.Log.Info().Int("samples", n).Dur("span", backfillSpan).Msg("history loaded")

	// collector, configured from what the simulator serves.
	ccPath := filepath.Join(c.DataDir, "collector.yaml")
	err = s.Sim.WriteCollectorConfig(simulator.CollectorConfigOptions{
		Path:      ccPath,
		DataDir:   filepath.Join(c.DataDir, "collector"),
		SinkType:  "api",
		SinkURL:   s.URL,
		SinkToken: ingestToken,
		ClientID:  "quantrac-demo-collector",
	})
	if err != nil {
		return fail(fmt.Errorf("collector config: %w", err))
	}
	ccfg, err := collector.LoadConfig(ccPath)
	if err != nil {
		return fail(err)
	}
	clog := c.Log.With().Str("app", "collector").Logger()
	s.Collector, err = collector.New(ccfg, collector.Options{Logger: clog, Drivers: wire.Drivers(), OpenStorage: wire.OpenStorage(clog)})
	if err != nil {
		return fail(err)
	}
	go func() {
		defer close(s.stopped)
		if err := s.Collector.Run(ctx); err != nil && ctx.Err() == nil {
			c.Log.Error().Err(err).Msg("collector stopped")
			close(s.done)
		}
	}()
	return s, nil
}

// Done is closed when a component stopped by itself.
func (s *stack) Done() <-chan struct{} { return s.done }

// Stop shuts everything down: the collector first so that nothing is
// sent to a closing api, then the simulator, then the api (which flushes
// the engine).
func (s *stack) Stop() {
	s.cancel()
	if s.Collector != nil {
		select {
		case <-s.stopped:
		case <-time.After(10 * time.Second):
		}
		_ = s.Collector.Close()
	}
	if s.Sim != nil {
		s.Sim.Stop()
	}
	if s.API != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = s.API.Shutdown(ctx)
	}
	if s.SMSC != nil {
		s.SMSC.Close()
	}
}

// StatusLine summarises what the stack did so far.
func (s *stack) StatusLine(ctx context.Context) string {
	st := s.Collector.Status()
	ok := 0
	for _, x := range st {
		if x.LastSuccess > 0 && x.LastSuccess >= x.LastErrorAt {
			ok++
		}
	}
	series := 0
	if names, err := s.API.Store().LabelValues(ctx, "__name__", nil); err == nil {
		series = len(names)
	}
	qs := s.Collector.Queue().Stats()
	return fmt.Sprintf("%s  stations reporting %d/%d, metrics stored %d, collector queue %d bytes pending, SMS sent %d",
		time.Now().Format("15:04:05"), ok, len(st), series, qs.PendingBytes, s.SMSC.Count())
}

// ensureToken creates the named token, or recreates it when one of that
// name exists (its secret is stored hashed, so it cannot be shown again).
func ensureToken(ts *api.TokenStore, name, role string) (string, error) {
	for _, t := range ts.List() {
		if t.Name == name {
			if _, err := ts.Revoke(name); err != nil {
				return "", err
			}
		}
	}
	return ts.Create(name, role, "")
}

// checkInputs finds what would make the stack fail half-started: the
// repository's configs, the scenario and the Beijing directory.
func checkInputs(o options) error {
	c := stackConfig{Repo: o.Repo}
	rules := c.path("configs/rules")
	if st, err := os.Stat(rules); err != nil || !st.IsDir() {
		return fmt.Errorf("no alert rules at %s: run the demo from the repository root or pass -repo DIR", rules)
	}
	if _, err := simulator.LoadScenario(c.path(o.Scenario)); err != nil {
		return fmt.Errorf("-scenario: %w", err)
	}
	if o.Beijing != "" {
		st, err := os.Stat(o.Beijing)
		if err != nil {
			return fmt.Errorf("-beijing: %w", err)
		}
		if !st.IsDir() {
			return fmt.Errorf("-beijing %s: not a directory (want the directory of the PRSA_Data_*.csv files)", o.Beijing)
		}
	}
	return nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

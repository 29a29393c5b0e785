// Command collector reads the stations of a config file, buffers their
// readings on disk and sends them to the api, VictoriaMetrics or an
// embedded tsdb.
//
//	collector -config configs/collector.yaml
//	collector -check -config configs/collector.yaml
//	collector -config sim.yaml -sink victoriametrics -sink-url http://127.0.0.1:8428
//	collector probe modbus -address tcp://127.0.0.1:5020 -slave 1 -map configs/maps/X.yaml
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/rs/zerolog"

	"github.com/quantrac/quantrac/collector"
	"github.com/quantrac/quantrac/collector/wire"
	"github.com/quantrac/quantrac/drivers/modbus"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "collector:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "probe" {
		return probe(args[1:], stdout)
	}
	fs := flag.NewFlagSet("collector", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "configs/collector.yaml", "collector config file")
	check := fs.Bool("check", false, "validate the config and exit")
	listen := fs.String("listen", "", "address of /metrics, /healthz and /status (overrides the config's listen)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	sinkType := fs.String("sink", "", "override the config's sink type: api, victoriametrics or tsdb")
	sinkURL := fs.String("sink-url", "", "override the config's sink URL (the data directory for tsdb)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (flags start with -; the only subcommand is probe, first)", fs.Arg(0))
	}
	lvl, err := zerolog.ParseLevel(*logLevel)
	if err != nil || *logLevel == "" {
		return fmt.Errorf("-log-level %q: want debug, info, warn or error", *logLevel)
	}
	load := func() (*collector.Config, error) {
		cfg, err := collector.LoadConfig(*configPath)
		if err != nil {
			return nil, err
		}
		if err := cfg.OverrideSink(*sinkType, *sinkURL); err != nil {
			return nil, err
		}
		if *listen != "" {
			cfg.Listen = *listen
		}
		return cfg, nil
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	if cfg.Listen != "" {
		if _, _, err := net.SplitHostPort(cfg.Listen); err != nil {
			return fmt.Errorf("listen address %q (-listen or the config's listen): want host:port, e.g. 127.0.0.1:9101: %w", cfg.Listen, err)
		}
	}
	if *check {
		// Register maps are parsed too: their errors name the map file and line.
		seen := map[string]bool{}
		for _, st := range cfg.Stations {
			if st.Modbus == nil || seen[st.Modbus.Map] {
				continue
			}
			seen[st.Modbus.Map] = true
			if _, err := modbus.LoadRegisterMap(cfg.Resolve(st.Modbus.Map)); err != nil {
				return fmt.Errorf("station %s: %w", st.ID, err)
			}
		}
		owned := 0
		for _, st := range cfg.Stations {
			if cfg.Shard.Owns(st.ID) {
				owned++
			}
		}
		fmt.Fprintf(stdout, "%s: ok, %d stations (%d in this shard), sink %s\n", *configPath, len(cfg.Stations), owned, cfg.Sink.Type)
		return nil
	}
	log := zerolog.New(stderr).Level(lvl).With().Timestamp().Logger()

	set := metrics.NewSet()
	c, err := collector.New(cfg, collector.Options{
		Logger:      log,
		Metrics:     set,
		Drivers:     wire.Drivers(),
		OpenStorage: wire.OpenStorage(log),
	})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if cfg.Listen != "" {
		ln, err := net.Listen("tcp", cfg.Listen)
		if err != nil {
			c.Close()
			return fmt.Errorf("listen %s: %w", cfg.Listen, err)
		}
		srv := &http.Server{Handler: c.Handler(), ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
		log.Info().Str("listen", ln.Addr().String()).Msg("serving /metrics, /healthz, /status")
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
			}
			ncfg, err := load()
			if err != nil {
				log.Error().Err(err).Msg("reload: config invalid; keeping the running one")
				continue
			}
			if err := c.Reload(ncfg); err != nil {
				log.Error().Err(err).Msg("reload failed")
			}
		}
	}()

	err = c.Run(ctx)
	if cerr := c.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	log.Info().Msg("collector stopped")
	return err
}

func probe(args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "modbus" {
		return errors.New("usage: collector probe modbus -address tcp://host:port -slave 1 -map configs/maps/X.yaml")
	}
	fs := flag.NewFlagSet("probe modbus", flag.ContinueOnError)
	addr := fs.String("address", "", "tcp://host:port, rtu:///dev/ttyUSB0?baud=9600 or ascii:///dev/ttyUSB0")
	slave := fs.Int("slave", 1, "slave (unit) id")
	mapPath := fs.String("map", "", "register map YAML file")
	timeout := fs.Duration("timeout", 2*time.Second, "request timeout")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *addr == "" || *mapPath == "" {
		return errors.New("probe modbus: -address and -map are required")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10**timeout+5*time.Second)
	defer cancel()
	return modbus.Probe(ctx, modbus.Config{Address: *addr, SlaveID: *slave, Map: *mapPath, Timeout: *timeout}, stdout)
}

// Command api runs quantrac's HTTP server: ingest, queries, the
// Prometheus-compatible API, alerting and the dashboard, on the embedded
// tsdb or on VictoriaMetrics.
//
//	api [-config configs/api.yaml] [-http 127.0.0.1:8080] [-data data/api]
//	api token create -role viewer|ingest|operator|admin -name NAME [-province HN] [-data DIR]
//	api token list [-data DIR]
//	api token revoke -name NAME [-data DIR]
//
// SIGHUP reloads the alert rules and roster; SIGINT or SIGTERM stop the
// server gracefully.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"

	"github.com/quantrac/quantrac/api"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "api:", err)
		os.Exit(1)
	}
}

// loadConfig reads -config (if given) and applies -http and -data.
func loadConfig(fs *flag.FlagSet, cfgPath, httpAddr, dataDir string) (api.Config, error) {
	cfg := api.DefaultConfig()
	if cfgPath != "" {
		var err error
		if cfg, err = api.LoadConfig(cfgPath); err != nil {
			return cfg, err
		}
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "http":
			cfg.HTTP = httpAddr
		case "data":
			cfg.DataDir = dataDir
		}
	})
	return cfg, cfg.Validate()
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "token" {
		return runToken(args[1:], stdout)
	}
	fs := flag.NewFlagSet("api", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "YAML config file (see configs/api.yaml)")
	httpAddr := fs.String("http", "127.0.0.1:8080", "listen address host:port (overrides the config)")
	dataDir := fs.String("data", "data/api", "data directory: tsdb, tokens, stations (overrides the config)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (subcommands: token)", fs.Arg(0))
	}
	cfg, err := loadConfig(fs, *cfgPath, *httpAddr, *dataDir)
	if err != nil {
		return err
	}
	lvl, err := zerolog.ParseLevel(*logLevel)
	if err != nil {
		return fmt.Errorf("-log-level %q: %w", *logLevel, err)
	}
	cfg.Logger = zerolog.New(stderr).Level(lvl).With().Timestamp().Str("app", "api").Logger()
	srv, err := api.New(cfg)
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		_ = srv.Shutdown(context.Background())
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-hup:
			if err := srv.ReloadAlertRules(); err != nil {
				cfg.Logger.Error().Err(err).Msg("reload alert rules (SIGHUP)")
			} else {
				cfg.Logger.Info().Msg("alert rules reloaded (SIGHUP)")
			}
		}
	}
	cfg.Logger.Info().Msg("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

func runToken(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("token: want create, list or revoke")
	}
	fs := flag.NewFlagSet("api token "+args[0], flag.ContinueOnError)
	cfgPath := fs.String("config", "", "YAML config file whose data_dir holds the tokens")
	dataDir := fs.String("data", "data/api", "data directory (overrides the config)")
	role := fs.String("role", "", "viewer, ingest, operator or admin")
	name := fs.String("name", "", "token name (unique)")
	province := fs.String("province", "", "restrict the token to one province's series")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	cfg, err := loadConfig(fs, *cfgPath, "", *dataDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	ts, err := api.OpenTokenStore(cfg.DataDir)
	if err != nil {
		return err
	}
	switch args[0] {
	case "create":
		tok, err := ts.Create(*name, *role, *province)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, tok)
		return nil
	case "list":
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tROLE\tPROVINCE\tCREATED")
		for _, t := range ts.List() {
			p := t.Province
			if p == "" {
				p = "*"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Name, t.Role, p, t.Created.Format(time.RFC3339))
		}
		return tw.Flush()
	case "revoke":
		ok, err := ts.Revoke(*name)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("token revoke: no token named %q", *name)
		}
		fmt.Fprintf(stdout, "revoked %s\n", *name)
		return nil
	}
	return fmt.Errorf("token %q: want create, list or revoke", args[0])
}

// Package wire connects the driver packages and the embedded tsdb to the
// collector, so cmd/collector, tests and benchmarks build the same thing.
package wire

import (
	"context"
	"sync"

	"github.com/rs/zerolog"

	"github.com/quantrac/quantrac/collector"
	"github.com/quantrac/quantrac/drivers/datafile"
	"github.com/quantrac/quantrac/drivers/modbus"
	"github.com/quantrac/quantrac/drivers/mqtt"
	"github.com/quantrac/quantrac/model"
	"github.com/quantrac/quantrac/tsdb"
)

// Drivers returns the real drivers. Modbus devices share one connection
// pool; each register map file is parsed once.
func Drivers() collector.Drivers {
	pool := modbus.NewPool(modbus.PoolOptions{})
	var mu sync.Mutex
	maps := map[string]*modbus.RegisterMap{}
	return collector.Drivers{
		Modbus: func(st *collector.StationConfig, mapPath string, log zerolog.Logger) (collector.Poller, error) {
			mu.Lock()
			m, ok := maps[mapPath]
			if !ok {
				var err error
				if m, err = modbus.LoadRegisterMap(mapPath); err != nil {
					mu.Unlock()
					return nil, err
				}
				maps[mapPath] = m
			}
			mu.Unlock()
			mc := st.Modbus
			return modbus.New(st.Station(), modbus.Config{
				Address:       mc.Address,
				SlaveID:       mc.SlaveID,
				Map:           mapPath,
				Interval:      mc.Interval,
				Timeout:       mc.Timeout,
				MaxGap:        mc.MaxGap,
				BusyRetries:   mc.BusyRetries,
				BusyRetryWait: mc.BusyRetryWait,
			}, modbus.Options{Map: m, Pool: pool, Logger: &log})
		},
		MQTT:     NewMQTT,
		Datafile: NewDatafile,
	}
}

// NewDatafile builds the drivers/datafile spool watcher; a file moves to
// done/ only after the handler queued its samples.
func NewDatafile(cfg *collector.DatafileConfig, spool string, stations []model.Station, h collector.FileHandler, log zerolog.Logger) (collector.Runner, error) {
	w, err := datafile.New(datafile.Options{Spool: spool, Stations: stations, Logger: log}, datafile.Handler(h))
	if err != nil {
		return nil, err
	}
	return closingRunner{w}, nil
}

type closingRunner struct{ w *datafile.Watcher }

func (r closingRunner) Run(ctx context.Context) error {
	err := r.w.Run(ctx)
	if cerr := r.w.Close(); err == nil {
		err = cerr
	}
	return err
}

// NewMQTT builds the drivers/mqtt subscriber for the collector's mqtt
// section; acknowledgement is manual (after the disk queue).
func NewMQTT(cfg *collector.MQTTConfig, stations []model.Station, h collector.PushHandler, log zerolog.Logger) (collector.Runner, error) {
	opts := mqtt.Options{
		Brokers:     []string{cfg.Broker},
		ClientID:    cfg.ClientID,
		Username:    cfg.Username,
		Password:    cfg.Password,
		Stations:    stations,
		MaxInFlight: cfg.MaxInFlight,
		Logger:      log,
	}
	if cfg.QoS != nil {
		q := byte(*cfg.QoS)
		opts.QoS = &q
	}
	for _, s := range cfg.Subscriptions {
		opts.Subscriptions = append(opts.Subscriptions, mqtt.Subscription{Topic: s.Topic, Format: mqtt.Format(s.Format), Labels: s.Labels, Rename: s.Rename})
	}
	return mqtt.New(opts, mqtt.Handler(h))
}

// OpenStorage returns the opener of the embedded engine for sink type tsdb.
func OpenStorage(log zerolog.Logger) func(dir string) (model.Writer, func() error, error) {
	return func(dir string) (model.Writer, func() error, error) {
		opts := tsdb.DefaultOptions()
		opts.Logger = log.With().Str("component", "tsdb").Logger()
		db, err := tsdb.Open(dir, opts)
		if err != nil {
			return nil, nil, err
		}
		return db, db.Close, nil
	}
}

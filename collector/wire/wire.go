// Package wire connects the driver packages and the embedded tsdb to the
// collector, so cmd/collector, tests and benchmarks build the same thing.
package wire

import (
	"sync"

	"github.com/rs/zerolog"

	"github.com/quantrac/quantrac/collector"
	"github.com/quantrac/quantrac/drivers/modbus"
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
	}
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

package main

import (
	"sync"

	"github.com/rs/zerolog"

	"github.com/quantrac/quantrac/collector"
	"github.com/quantrac/quantrac/drivers/modbus"
)

// drivers wires the driver packages into the collector.
func drivers() collector.Drivers {
	pool := modbus.NewPool(modbus.PoolOptions{})
	var mu sync.Mutex
	maps := map[string]*modbus.RegisterMap{} // one parse per map file
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

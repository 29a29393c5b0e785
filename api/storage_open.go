package api

import (
	"fmt"

	"github.com/rs/zerolog"

	"github.com/quantrac/quantrac/model"
	"github.com/quantrac/quantrac/vmstore"
)

// openStorage opens the backend cfg.Storage names.
func openStorage(cfg Config, log zerolog.Logger) (model.Storage, error) {
	switch cfg.Storage {
	case StorageVictoriaMetrics:
		vm := cfg.VictoriaMetrics
		st, err := vmstore.New(vmstore.Options{
			URL: vm.URL, Cluster: vm.Cluster, InsertURL: vm.InsertURL, SelectURL: vm.SelectURL,
			Tenants: vm.Tenants, DefaultTenant: vm.DefaultTenant, Timeout: vm.Timeout, LatestLookback: vm.LatestLookback,
			Logger: log.With().Str("component", "vmstore").Logger(),
		})
		if err != nil {
			return nil, fmt.Errorf("open victoriametrics storage: %w", err)
		}
		return st, nil
	case StorageTSDB:
		return openTSDB(cfg, log)
	}
	return nil, fmt.Errorf("storage %q: want tsdb or victoriametrics", cfg.Storage)
}

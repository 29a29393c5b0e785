package main

import (
	"github.com/rs/zerolog"

	"github.com/quantrac/quantrac/model"
	"github.com/quantrac/quantrac/tsdb"
)

// storageOpener opens the embedded engine for sink type tsdb.
func storageOpener(log zerolog.Logger) func(dir string) (model.Writer, func() error, error) {
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

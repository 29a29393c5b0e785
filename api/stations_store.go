package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/quantrac/quantrac/model"
)

// StationsFile is the name of the station metadata file in the data directory.
const StationsFile = "stations.json"

// StationStore keeps station metadata in <dir>/stations.json.
type StationStore struct {
	path string
	mu   sync.RWMutex
	byID map[string]model.Station
}

// OpenStationStore loads the station file in dir; a missing file is empty.
func OpenStationStore(dir string) (*StationStore, error) {
	ss := &StationStore{path: filepath.Join(dir, StationsFile), byID: map[string]model.Station{}}
	data, err := os.ReadFile(ss.path)
	if errors.Is(err, os.ErrNotExist) {
		return ss, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read station file: %w", err)
	}
	var list []model.Station
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, fmt.Errorf("station file %s: %w", ss.path, err)
	}
	for _, st := range list {
		ss.byID[st.ID] = st
	}
	return ss, nil
}

// validateStation checks one station record.
func validateStation(st model.Station) error {
	if st.ID == "" {
		return errors.New("id is empty")
	}
	if st.Province == "" {
		return fmt.Errorf("station %q: province is empty", st.ID)
	}
	switch st.Kind {
	case model.KindHydrological, model.KindAir, model.KindWeather:
	default:
		return fmt.Errorf("station %q: kind %q: want hydrological, air or weather", st.ID, st.Kind)
	}
	if math.IsNaN(st.Lat) || st.Lat < -90 || st.Lat > 90 {
		return fmt.Errorf("station %q: lat %v outside [-90, 90]", st.ID, st.Lat)
	}
	if math.IsNaN(st.Lon) || st.Lon < -180 || st.Lon > 180 {
		return fmt.Errorf("station %q: lon %v outside [-180, 180]", st.ID, st.Lon)
	}
	for _, p := range st.Parameters {
		if !model.ValidMetricName(p) {
			return fmt.Errorf("station %q: parameter %q is not a valid series name", st.ID, p)
		}
	}
	return nil
}

// Upsert stores the stations (replacing records with the same id) and
// writes the file.
func (ss *StationStore) Upsert(list []model.Station) error {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	next := make(map[string]model.Station, len(ss.byID)+len(list))
	for k, v := range ss.byID {
		next[k] = v
	}
	for _, st := range list {
		next[st.ID] = st
	}
	all := make([]model.Station, 0, len(next))
	for _, st := range next {
		all = append(all, st)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	data, err := json.MarshalIndent(all, "", "  ")
	if err != nil {
		return fmt.Errorf("encode stations: %w", err)
	}
	if err := writeFileAtomic(ss.path, append(data, '\n'), 0o644); err != nil {
		return err
	}
	ss.byID = next
	return nil
}

// List returns all stations sorted by id.
func (ss *StationStore) List() []model.Station {
	ss.mu.RLock()
	defer ss.mu.RUnlock()
	all := make([]model.Station, 0, len(ss.byID))
	for _, st := range ss.byID {
		all = append(all, st)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	return all
}

// Get returns one station.
func (ss *StationStore) Get(id string) (model.Station, bool) {
	ss.mu.RLock()
	defer ss.mu.RUnlock()
	st, ok := ss.byID[id]
	return st, ok
}

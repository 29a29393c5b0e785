package model

import (
	"fmt"
	"math"
)

// Timestamps are int64 milliseconds since the Unix epoch, UTC. The engine
// accepts [MinTime, MaxTime): 1970-01-01 up to (not including) 2262-01-01.
const (
	MinTime int64 = 0
	MaxTime int64 = 9214646400000 // 2262-01-01T00:00:00Z
)

// Sample is one reading of one series.
type Sample struct {
	Labels Labels
	T      int64 // milliseconds since the Unix epoch, UTC
	V      float64
	Q      Quality
}

// Point is a sample without its series, as returned by queries.
type Point struct {
	T int64
	V float64
	Q Quality
}

// Validate checks what every stored sample must meet; the error names the
// series and what is wrong so a batch can report it per sample.
func (s *Sample) Validate() error {
	if err := s.Labels.Validate(); err != nil {
		return err
	}
	if math.IsNaN(s.V) || math.IsInf(s.V, 0) {
		return fmt.Errorf("series %s at %d: value %v is not a finite number", s.Labels, s.T, s.V)
	}
	if s.T < MinTime || s.T >= MaxTime {
		return fmt.Errorf("series %s: timestamp %d ms is outside [1970, 2262)", s.Labels, s.T)
	}
	return nil
}

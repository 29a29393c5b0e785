package simulator

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// txtUnits are the units written in TXT files where they differ from the
// SenML ones.
var txtUnits = map[string]string{"Cel": "°C", "%RH": "%", "ug/m3": "µg/m3"}

// TXTFileName returns the Circular 10 style file name
// <province>_<facility>_<station>_<yyyyMMddhhmmss>.txt for stamp (local
// time, Asia/Ho_Chi_Minh).
func TXTFileName(province, facility, station string, stamp time.Time) string {
	return fmt.Sprintf("%s_%s_%s_%s.txt", province, facility, station, stamp.In(VietnamTime).Format("20060102150405"))
}

// txtContent renders the lines of one file:
// parameter<TAB>value<TAB>unit<TAB>yyyyMMddhhmmss<TAB>status.
func txtContent(stamp time.Time, rs []Reading) []byte {
	var b strings.Builder
	ts := stamp.In(VietnamTime).Format("20060102150405")
	for _, r := range rs {
		unit := params[r.Param].Unit
		if u, ok := txtUnits[unit]; ok {
			unit = u
		}
		b.WriteString(r.Param)
		b.WriteByte('\t')
		b.WriteString(formatFloat(*r.V))
		b.WriteByte('\t')
		b.WriteString(unit)
		b.WriteByte('\t')
		b.WriteString(ts)
		b.WriteByte('\t')
		b.WriteString(r.Status)
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

func (s *Simulator) startTXT() error {
	var tx []*station
	for _, st := range s.stations {
		if st.info.Transport == TransportTXT {
			tx = append(tx, st)
		}
	}
	s.spool = s.sc.path(s.sc.TXT.Spool)
	if len(tx) == 0 {
		return nil
	}
	if err := os.MkdirAll(s.spool, 0o755); err != nil {
		return fmt.Errorf("txt spool: %w", err)
	}
	for _, st := range tx {
		st := st
		st.info.Spool = s.spool
		s.goRun(func(ctx context.Context) { s.runTXTStation(ctx, st) })
	}
	return nil
}

// runTXTStation writes one file per step.
func (s *Simulator) runTXTStation(ctx context.Context, st *station) {
	k, _ := st.step(s.now())
	for {
		k++
		t := time.Unix(0, k*int64(st.interval))
		if !s.sleepUntil(ctx, t.Add(st.phase())) {
			return
		}
		rs := st.readings(t)
		stamp := t
		var ok []Reading
		offline := false
		for _, r := range rs {
			if r.Reason == "offline" {
				offline = true
			}
			if r.Stamp != 0 {
				stamp = time.UnixMilli(r.Stamp)
			}
			if r.OK {
				ok = append(ok, r)
			}
		}
		if offline || len(ok) == 0 {
			continue
		}
		name := TXTFileName(st.cfg.Province, st.info.Facility, st.cfg.ID, stamp)
		data := txtContent(stamp, ok)
		write := func() {
			if w := s.faults.active(st.info.ID, FaultHalfWritten, t); w != nil {
				s.writeHalves(ctx, name, data, w.delay())
			} else {
				s.writeAtomic(name, data)
			}
			if s.faults.active(st.info.ID, FaultDuplicate, t) != nil {
				// The logger sends the file again later (an upload retry),
				// typically after the first copy was taken from the spool.
				s.wg.Add(1)
				go func() {
					defer s.wg.Done()
					if s.sleepUntil(ctx, s.now().Add(st.interval/2)) {
						s.writeAtomic(name, data)
					}
				}()
			}
		}
		if w := s.faults.active(st.info.ID, FaultSlow, t); w != nil {
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				if s.sleepUntil(ctx, s.now().Add(w.delay())) {
					write()
				}
			}()
			continue
		}
		write()
	}
}

// writeAtomic writes a hidden temporary file and renames it into place, so
// a spool watcher never sees a partial file.
func (s *Simulator) writeAtomic(name string, data []byte) {
	tmp := filepath.Join(s.spool, "."+name+".tmp")
	final := filepath.Join(s.spool, name)
	err := os.WriteFile(tmp, data, 0o644)
	if err == nil {
		err = os.Rename(tmp, final)
	}
	if err != nil {
		os.Remove(tmp)
		s.stats.txtErrors.Add(1)
		s.log.Warn().Err(err).Str("file", final).Msg("txt: write")
		return
	}
	s.stats.txtFiles.Add(1)
}

// writeHalves writes the file in place in two parts, pause apart, cutting
// the first part in the middle of a line: an upload seen half-way.
func (s *Simulator) writeHalves(ctx context.Context, name string, data []byte, pause time.Duration) {
	final := filepath.Join(s.spool, name)
	f, err := os.Create(final)
	if err != nil {
		s.stats.txtErrors.Add(1)
		return
	}
	defer f.Close()
	half := len(data) / 2
	if _, err := f.Write(data[:half]); err != nil {
		s.stats.txtErrors.Add(1)
		return
	}
	_ = f.Sync()
	select {
	case <-ctx.Done():
	case <-time.After(pause):
	}
	if _, err := f.Write(data[half:]); err != nil {
		s.stats.txtErrors.Add(1)
		return
	}
	s.stats.txtFiles.Add(1)
}

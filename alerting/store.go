package alerting

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// On-disk names. One bbolt file holds everything alerting must not forget.
const (
	stateFileName = "alerting.db"

	bucketAlerts   = "alerts"   // id → Alert (active and resolved)
	bucketSilences = "silences" // id → Silence
	bucketEvents   = "events"   // seq → Event waiting to be grouped
	bucketOutbox   = "outbox"   // receiver → (seq → OutMsg pending)
	bucketSent     = "sent"     // seq → OutMsg sent or given up
	bucketRefs     = "refs"     // receiver ref (SMSC message id) → seq
	bucketMeta     = "meta"     // counters
)

type store struct {
	db *bolt.DB
}

func openStore(dir string) (*store, error) {
	path := filepath.Join(dir, stateFileName)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open alert store %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range []string{bucketAlerts, bucketSilences, bucketEvents, bucketOutbox, bucketSent, bucketRefs, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists([]byte(b)); err != nil {
				return fmt.Errorf("create bucket %s: %w", b, err)
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("init alert store %s: %w", path, err)
	}
	return &store{db: db}, nil
}

func (s *store) close() error { return s.db.Close() }

func u64key(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	return b.Put(key, data)
}

// nextSeq gives a new id from bucket name's sequence.
func nextSeq(tx *bolt.Tx, bucket string) (uint64, error) {
	return tx.Bucket([]byte(bucket)).NextSequence()
}

func putAlert(tx *bolt.Tx, a *Alert) error {
	return putJSON(tx.Bucket([]byte(bucketAlerts)), u64key(a.ID), a)
}

func putEvent(tx *bolt.Tx, ev *Event) error {
	b := tx.Bucket([]byte(bucketEvents))
	if ev.Seq == 0 {
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		ev.Seq = seq
	}
	return putJSON(b, u64key(ev.Seq), ev)
}

// loadActive reads every alert not yet resolved.
func (s *store) loadActive() ([]*Alert, error) {
	var out []*Alert
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketAlerts)).ForEach(func(k, v []byte) error {
			var a Alert
			if err := json.Unmarshal(v, &a); err != nil {
				return fmt.Errorf("decode alert %x: %w", k, err)
			}
			if a.active() {
				out = append(out, &a)
			}
			return nil
		})
	})
	return out, err
}

// listAlerts walks alerts newest first, stopping after limit matches.
func (s *store) listAlerts(match func(*Alert) bool, limit int) ([]*Alert, error) {
	var out []*Alert
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket([]byte(bucketAlerts)).Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			var a Alert
			if err := json.Unmarshal(v, &a); err != nil {
				return fmt.Errorf("decode alert %x: %w", k, err)
			}
			if match(&a) {
				out = append(out, &a)
				if limit > 0 && len(out) >= limit {
					return nil
				}
			}
		}
		return nil
	})
	return out, err
}

func (s *store) getAlert(id uint64) (*Alert, error) {
	var a *Alert
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket([]byte(bucketAlerts)).Get(u64key(id))
		if v == nil {
			return nil
		}
		a = new(Alert)
		return json.Unmarshal(v, a)
	})
	return a, err
}

func (s *store) loadSilences() ([]*Silence, error) {
	var out []*Silence
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketSilences)).ForEach(func(k, v []byte) error {
			var sl Silence
			if err := json.Unmarshal(v, &sl); err != nil {
				return fmt.Errorf("decode silence %s: %w", k, err)
			}
			if err := sl.Validate(); err != nil {
				return fmt.Errorf("silence %s: %w", k, err)
			}
			out = append(out, &sl)
			return nil
		})
	})
	return out, err
}

// prune deletes resolved alerts and archived messages older than before.
func (s *store) prune(before time.Time) (int, error) {
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		var dead [][]byte
		ab := tx.Bucket([]byte(bucketAlerts))
		err := ab.ForEach(func(k, v []byte) error {
			var a struct {
				State      State     `json:"state"`
				ResolvedAt time.Time `json:"resolved_at"`
			}
			if json.Unmarshal(v, &a) == nil && a.State == StateResolved && a.ResolvedAt.Before(before) {
				dead = append(dead, append([]byte(nil), k...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range dead {
			if err := ab.Delete(k); err != nil {
				return err
			}
		}
		n += len(dead)
		dead = dead[:0]
		sb := tx.Bucket([]byte(bucketSent))
		gone := map[string]bool{}
		err = sb.ForEach(func(k, v []byte) error {
			var om struct {
				Msg struct {
					Created time.Time `json:"created"`
				} `json:"msg"`
			}
			if json.Unmarshal(v, &om) == nil && om.Msg.Created.Before(before) {
				dead = append(dead, append([]byte(nil), k...))
				gone[string(k)] = true
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range dead {
			if err := sb.Delete(k); err != nil {
				return err
			}
		}
		n += len(dead)
		rb := tx.Bucket([]byte(bucketRefs))
		var deadRefs [][]byte
		rb.ForEach(func(k, v []byte) error {
			if gone[string(v)] {
				deadRefs = append(deadRefs, append([]byte(nil), k...))
			}
			return nil
		})
		for _, k := range deadRefs {
			if err := rb.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	return n, err
}

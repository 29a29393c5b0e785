package api

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/quantrac/quantrac/atomicfile"
)

// Roles a token can carry.
const (
	RoleViewer   = "viewer"   // read series, stations, alerts
	RoleIngest   = "ingest"   // write samples and station metadata only
	RoleOperator = "operator" // viewer + acknowledge and silence alerts
	RoleAdmin    = "admin"    // everything: rules, stations, tokens
)

// TokensFile is the name of the token file in the data directory.
const TokensFile = "tokens.json"

// ValidRole reports whether r is one of the four roles.
func ValidRole(r string) bool {
	switch r {
	case RoleViewer, RoleIngest, RoleOperator, RoleAdmin:
		return true
	}
	return false
}

// roleAllows reports whether a token with role have may use a route that
// needs role need. Reading needs viewer (operator and admin read too);
// writing samples needs ingest (or admin); operator actions need operator
// (or admin); admin needs admin.
func roleAllows(have, need string) bool {
	if have == RoleAdmin {
		return true
	}
	switch need {
	case RoleViewer:
		return have == RoleViewer || have == RoleOperator
	case RoleIngest:
		return have == RoleIngest
	case RoleOperator:
		return have == RoleOperator
	}
	return false
}

// TokenInfo is what is stored about a token: never the token itself, only
// its SHA-256.
type TokenInfo struct {
	Name     string    `json:"name"`
	Role     string    `json:"role"`
	Province string    `json:"province,omitempty"` // empty: all provinces
	Hash     string    `json:"sha256"`
	Created  time.Time `json:"created"`
}

// TokenStore keeps hashed tokens in <dir>/tokens.json and reloads the file
// when it changes on disk (the CLI adds tokens while the server runs).
type TokenStore struct {
	path string

	mu      sync.Mutex
	tokens  []TokenInfo
	hashes  [][]byte
	modTime time.Time
	size    int64
	checked time.Time
}

// OpenTokenStore loads the token file in dir; a missing file means no tokens.
func OpenTokenStore(dir string) (*TokenStore, error) {
	ts := &TokenStore{path: filepath.Join(dir, TokensFile)}
	if err := ts.reload(true); err != nil {
		return nil, err
	}
	return ts, nil
}

func (ts *TokenStore) reload(force bool) error {
	st, err := os.Stat(ts.path)
	if errors.Is(err, os.ErrNotExist) {
		ts.tokens, ts.hashes, ts.modTime, ts.size = nil, nil, time.Time{}, 0
		return nil
	}
	if err != nil {
		return fmt.Errorf("stat token file: %w", err)
	}
	if !force && st.ModTime().Equal(ts.modTime) && st.Size() == ts.size {
		return nil
	}
	data, err := os.ReadFile(ts.path)
	if err != nil {
		return fmt.Errorf("read token file: %w", err)
	}
	var tokens []TokenInfo
	if err := json.Unmarshal(data, &tokens); err != nil {
		return fmt.Errorf("token file %s: %w", ts.path, err)
	}
	hashes := make([][]byte, len(tokens))
	for i, t := range tokens {
		h, err := hex.DecodeString(t.Hash)
		if err != nil || len(h) != sha256.Size {
			return fmt.Errorf("token file %s: token %q: bad sha256 %q", ts.path, t.Name, t.Hash)
		}
		if !ValidRole(t.Role) {
			return fmt.Errorf("token file %s: token %q: unknown role %q", ts.path, t.Name, t.Role)
		}
		hashes[i] = h
	}
	ts.tokens, ts.hashes, ts.modTime, ts.size = tokens, hashes, st.ModTime(), st.Size()
	return nil
}

// maybeReload rereads the file at most once a second.
func (ts *TokenStore) maybeReload() {
	now := time.Now()
	if now.Sub(ts.checked) < time.Second {
		return
	}
	ts.checked = now
	_ = ts.reload(false) // keep the tokens we have when the file is briefly unreadable
}

// Len returns how many tokens exist.
func (ts *TokenStore) Len() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.maybeReload()
	return len(ts.tokens)
}

// List returns the stored token records (hashes only).
func (ts *TokenStore) List() []TokenInfo {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.maybeReload()
	return append([]TokenInfo(nil), ts.tokens...)
}

// Lookup finds the token's record. Every stored hash is compared in
// constant time, so the answer time does not depend on which one matched.
func (ts *TokenStore) Lookup(token string) (TokenInfo, bool) {
	sum := sha256.Sum256([]byte(token))
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.maybeReload()
	found := -1
	for i, h := range ts.hashes {
		if subtle.ConstantTimeCompare(sum[:], h) == 1 {
			found = i
		}
	}
	if found < 0 {
		return TokenInfo{}, false
	}
	return ts.tokens[found], true
}

// Create makes a new random token, stores its hash and returns the token,
// which is shown once and never stored.
func (ts *TokenStore) Create(name, role, province string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("create token: name is required")
	}
	if !ValidRole(role) {
		return "", fmt.Errorf("create token %q: unknown role %q: want viewer, ingest, operator or admin", name, role)
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if err := ts.reload(true); err != nil {
		return "", err
	}
	for _, t := range ts.tokens {
		if t.Name == name {
			return "", fmt.Errorf("create token: a token named %q exists; revoke it first", name)
		}
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("create token %q: random: %w", name, err)
	}
	token := "qt_" + base64.RawURLEncoding.EncodeToString(raw[:])
	sum := sha256.Sum256([]byte(token))
	tokens := append(append([]TokenInfo(nil), ts.tokens...), TokenInfo{
		Name: name, Role: role, Province: province, Hash: hex.EncodeToString(sum[:]), Created: time.Now().UTC(),
	})
	if err := ts.write(tokens); err != nil {
		return "", err
	}
	return token, ts.reload(true)
}

// Revoke deletes the named token; it reports whether one existed.
func (ts *TokenStore) Revoke(name string) (bool, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if err := ts.reload(true); err != nil {
		return false, err
	}
	var keep []TokenInfo
	for _, t := range ts.tokens {
		if t.Name != name {
			keep = append(keep, t)
		}
	}
	if len(keep) == len(ts.tokens) {
		return false, nil
	}
	if keep == nil {
		keep = []TokenInfo{}
	}
	if err := ts.write(keep); err != nil {
		return false, err
	}
	return true, ts.reload(true)
}

func (ts *TokenStore) write(tokens []TokenInfo) error {
	data, err := json.MarshalIndent(tokens, "", "  ")
	if err != nil {
		return fmt.Errorf("encode tokens: %w", err)
	}
	return writeFileAtomic(ts.path, append(data, '\n'), 0o600)
}

// writeFileAtomic creates the directory of path if needed and replaces
// path through atomicfile.WriteFile.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	return atomicfile.WriteFile(path, data, perm)
}

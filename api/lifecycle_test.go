package api

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestShutdownFlushesAndRestartKeepsData: what was acknowledged before a
// graceful shutdown is there after a restart on the same data directory.
func TestShutdownFlushesAndRestartKeepsData(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.HTTP, cfg.DataDir = "127.0.0.1:0", dir
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	ts := &testServer{t: t, srv: srv, url: srv.URL()}
	ts.mustDo(204, "POST", "/api/v1/import/prometheus", "", []byte(fmt.Sprintf("x{station=\"S\"} 1.5 %d\n", t0)))
	ts.mustDo(200, "POST", "/api/v1/stations", "", []byte(`[{"id":"S","name":"Trạm S","kind":"air","province":"HN","lat":1,"lon":2}]`))
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatalf("second shutdown: %v", err)
	}
	ts2 := startServer(t, func(c *Config) { c.DataDir = dir })
	got := ts2.series(fmt.Sprintf("match=x&from=%d&to=%d", t0, t0), "")
	if fmt.Sprint(got) != `map[x{station="S"}:[[1.7640324e+12 1.5]]]` {
		t.Fatalf("after restart: %v", got)
	}
	r := ts2.mustDo(200, "GET", "/api/v1/stations", "", nil)
	if !strings.Contains(string(r.body), "Trạm S") {
		t.Fatalf("stations after restart: %s", r.body)
	}
	r = ts2.mustDo(200, "GET", "/metrics", "", nil)
	for _, m := range []string{"quantrac_tsdb_head_samples", "quantrac_api_requests_total", "process_resident_memory_bytes"} {
		if !strings.Contains(string(r.body), m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
	ts2.mustDo(200, "GET", "/readyz", "", nil)
}

func TestCORSAllowList(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.CORS.AllowOrigins = []string{"https://ioc.example.gov.vn"} })
	r := ts.do("OPTIONS", "/api/v1/stations", "", nil, "Origin", "https://ioc.example.gov.vn", "Access-Control-Request-Method", "GET")
	if r.header.Get("Access-Control-Allow-Origin") != "https://ioc.example.gov.vn" {
		t.Fatalf("allowed origin: %d %v", r.status, r.header)
	}
	r = ts.do("GET", "/api/v1/stations", "", nil, "Origin", "https://evil.example.com")
	if v := r.header.Get("Access-Control-Allow-Origin"); v != "" {
		t.Fatalf("other origin got %q", v)
	}
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	ts := startServer(t, func(c *Config) { c.TLS = TLSConfig{CertFile: certFile, KeyFile: keyFile} })
	if !strings.HasPrefix(ts.url, "https://") {
		t.Fatalf("url %s", ts.url)
	}
	pool := x509.NewCertPool()
	pool.AddCert(mustParse(t, der))
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer client.CloseIdleConnections()
	resp, err := client.Get(ts.url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("healthz over TLS: %d", resp.StatusCode)
	}
}

func mustParse(t *testing.T, der []byte) *x509.Certificate {
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A shutdown straight after Start returns: it once waited forever when it
// came before fiber had begun serving (seen as a demo that never exited).
func TestShutdownRightAfterStart(t *testing.T) {
	for i := 0; i < 30; i++ {
		cfg := DefaultConfig()
		cfg.HTTP, cfg.DataDir = "127.0.0.1:0", t.TempDir()
		srv, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = srv.Shutdown(ctx)
		cancel()
		if err != nil {
			t.Fatalf("round %d: shutdown: %v", i, err)
		}
	}
}

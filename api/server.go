package api

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/compress"
	"github.com/gofiber/fiber/v2/middleware/cors"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/rs/zerolog"

	"github.com/quantrac/quantrac/alerting"
	"github.com/quantrac/quantrac/alerting/receivers"
	"github.com/quantrac/quantrac/model"
)

// Observer receives every batch after it was stored (the alert engine).
// Observe must not block for long: ingest waits for it.
type Observer interface {
	Observe(ctx context.Context, samples []model.Sample)
}

// Job is a background task the server runs until Shutdown (alert
// evaluation, the AQI job). Run returns when ctx ends.
type Job interface {
	Run(ctx context.Context) error
}

// Mounter adds routes to the server's router with the server's auth guard
// (alerting's alertapi.Mount, the dashboard).
type Mounter func(r fiber.Router, guard func(role string) fiber.Handler)

// Server is the api server. New builds it, Start listens, Shutdown stops it.
type Server struct {
	cfg       Config
	log       zerolog.Logger
	app       *fiber.App
	store     model.Storage
	ownsStore bool
	loc       *time.Location
	tokens    *TokenStore
	stations  *StationStore
	metrics   *metrics.Set
	tenants   *tenantSeries
	insert    *insertGate
	prom      *promAPI
	alerts    *alerting.Engine
	receivers *receivers.Set
	observers []Observer
	jobs      []Job
	started   time.Time

	mu       sync.Mutex
	ln       net.Listener
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	serveErr chan error
	shutdown bool
}

// New builds a server: it opens the data directory (tokens, stations) and
// the storage backend unless cfg.Store is set.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("api config: %w", err)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("create data dir %s: %w", cfg.DataDir, err)
	}
	loc, err := time.LoadLocation(cfg.Timezone)
	if err != nil {
		return nil, fmt.Errorf("timezone %q: %w", cfg.Timezone, err)
	}
	tokens, err := OpenTokenStore(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	stations, err := OpenStationStore(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger,
		loc:      loc,
		tokens:   tokens,
		stations: stations,
		metrics:  metrics.NewSet(),
		started:  time.Now(),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.store = cfg.Store
	if s.store == nil {
		st, err := openStorage(cfg, s.log)
		if err != nil {
			s.cancel()
			return nil, err
		}
		s.store, s.ownsStore = st, true
	}
	s.tenants = newTenantSeries(cfg.Limits.MaxSeriesPerTenant)
	s.insert = newInsertGate(cfg.Limits.MaxConcurrentInserts, cfg.Limits.MaxQueuedInserts, cfg.Limits.InsertWait)
	s.prom = newPromAPI(s)
	s.app = fiber.New(fiber.Config{
		AppName:               "quantrac",
		DisableStartupMessage: true,
		BodyLimit:             cfg.Limits.MaxBodyBytes,
		ErrorHandler:          s.errorHandler,
		ReadTimeout:           5 * time.Minute,
		WriteTimeout:          10 * time.Minute,
		IdleTimeout:           2 * time.Minute,
		ReadBufferSize:        16 << 10,
		StreamRequestBody:     false,
		// Values from the request (query, params, headers) outlive handlers:
		// in stored labels and in streamed answers.
		Immutable: true,
	})
	s.app.Use(s.accessLog)
	s.app.Use(compress.New(compress.Config{Level: compress.LevelBestSpeed}))
	s.app.Use(recover.New(recover.Config{EnableStackTrace: true, StackTraceHandler: func(c *fiber.Ctx, e any) {
		s.log.Error().Interface("panic", e).Str("path", c.Path()).Msg("handler panicked")
	}}))
	if len(cfg.CORS.AllowOrigins) > 0 {
		s.app.Use(cors.New(cors.Config{
			AllowOrigins:  joinComma(cfg.CORS.AllowOrigins),
			AllowHeaders:  "Authorization, Content-Type, Content-Encoding",
			AllowMethods:  "GET, POST, PUT, DELETE, OPTIONS",
			ExposeHeaders: "Retry-After, Content-Disposition",
			MaxAge:        600,
		}))
	}
	s.routes()
	if err := s.wire(); err != nil {
		s.cancel()
		if s.alerts != nil {
			s.alerts.Close()
		}
		if s.receivers != nil {
			s.receivers.Close()
		}
		if s.ownsStore {
			s.store.Close()
		}
		return nil, err
	}
	if tokens.Len() == 0 {
		s.log.Warn().Str("file", tokens.path).Msg("no api tokens configured: answering loopback clients only; create one with `api token create -role admin -name NAME`")
	}
	return s, nil
}

// Store returns the storage the server reads and writes.
func (s *Server) Store() model.Storage { return s.store }

// Tokens returns the token store.
func (s *Server) Tokens() *TokenStore { return s.tokens }

// Guard returns middleware that lets through requests whose token has a
// role allowing need (RoleViewer, RoleIngest, RoleOperator, RoleAdmin).
func (s *Server) Guard(need string) fiber.Handler { return s.guard(need) }

// AddObserver registers o to see every stored batch. Call before Start.
func (s *Server) AddObserver(o Observer) { s.observers = append(s.observers, o) }

// AddJob registers a background job run from Start until Shutdown. Call before Start.
func (s *Server) AddJob(j Job) { s.jobs = append(s.jobs, j) }

// Mount lets m add routes behind the server's guard. Call before Start.
func (s *Server) Mount(m Mounter) { m(s.app, s.guard) }

// ReloadAlertRules rereads the alert rules and roster (SIGHUP); a bad file
// keeps the rules that run and returns the error naming it.
func (s *Server) ReloadAlertRules() error {
	if s.alerts == nil {
		return errors.New("alerting is not enabled")
	}
	return s.alerts.Reload()
}

// Start listens on cfg.HTTP (TLS when configured) and serves in the
// background; it also starts the registered jobs.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return errors.New("api: already started")
	}
	ln, err := net.Listen("tcp", s.cfg.HTTP)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.HTTP, err)
	}
	if s.cfg.TLS.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(s.cfg.TLS.CertFile, s.cfg.TLS.KeyFile)
		if err != nil {
			ln.Close()
			return fmt.Errorf("load tls cert %s: %w", s.cfg.TLS.CertFile, err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	}
	s.ln = ln
	s.mountLate()
	s.mountDashboard()
	s.serveErr = make(chan error, 1)
	go func() { s.serveErr <- s.app.Listener(ln) }()
	s.tenants.preload(s.ctx, s.store, s.log)
	for _, j := range s.jobs {
		j := j
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := j.Run(s.ctx); err != nil && !errors.Is(err, context.Canceled) {
				s.log.Error().Err(err).Msg("background job stopped")
			}
		}()
	}
	s.log.Info().Str("addr", ln.Addr().String()).Str("storage", s.cfg.Storage).Bool("tls", s.cfg.TLS.CertFile != "").Msg("api listening")
	return nil
}

// Addr is the address the server listens on (after Start).
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// URL is the base URL of the running server.
func (s *Server) URL() string {
	scheme := "http"
	if s.cfg.TLS.CertFile != "" {
		scheme = "https"
	}
	return scheme + "://" + s.Addr()
}

// Shutdown stops accepting requests, waits for those in flight (until ctx
// ends), stops the jobs and closes (flushing) the storage it opened.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		return nil
	}
	s.shutdown = true
	started := s.ln != nil
	s.mu.Unlock()
	var errs []error
	if started {
		if err := s.app.ShutdownWithContext(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop http: %w", err))
		}
		// A shutdown right after Start can come before fiber is serving:
		// it then has nothing to stop and would serve on forever. Closing
		// the listener ends serving in every case.
		_ = s.ln.Close()
		select {
		case err := <-s.serveErr:
			if err != nil && !errors.Is(err, net.ErrClosed) {
				errs = append(errs, fmt.Errorf("serve: %w", err))
			}
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("stop http: %w", ctx.Err()))
		}
	}
	s.cancel()
	s.wg.Wait()
	if s.alerts != nil {
		if err := s.alerts.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close alerting: %w", err))
		}
	}
	if s.receivers != nil {
		if err := s.receivers.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close alert receivers: %w", err))
		}
	}
	if s.ownsStore {
		if err := s.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close storage: %w", err))
		}
	}
	s.log.Info().Msg("api stopped")
	return errors.Join(errs...)
}

func joinComma(xs []string) string {
	out := ""
	for i, x := range xs {
		if i > 0 {
			out += ","
		}
		out += x
	}
	return out
}

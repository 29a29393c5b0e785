package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/rs/zerolog"

	"github.com/quantrac/quantrac/api"
	"github.com/quantrac/quantrac/model"
)

// repoRoot is where configs/ is, seen from this package's directory.
const repoRoot = "../.."

// startTestStack runs the demo stack on a free port in a temporary directory.
func startTestStack(t *testing.T) (*stack, *syncBuffer) {
	t.Helper()
	var sms syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	s, err := startStack(ctx, stackConfig{
		Repo:     repoRoot,
		DataDir:  t.TempDir(),
		HTTP:     "127.0.0.1:0",
		Scenario: "configs/demo/scenario.yaml",
		Log:      zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel),
		SMSOut:   &sms,
	})
	if err != nil {
		cancel()
		t.Fatalf("start demo stack: %v", err)
	}
	t.Cleanup(func() {
		s.Stop()
		cancel()
	})
	return s, &sms
}

// syncBuffer collects what the console SMSC prints.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// getJSON fetches an api route with a token into out.
func getJSON(url, token string, out any) error {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, res.Status)
	}
	return json.NewDecoder(res.Body).Decode(out)
}

type stationJSON struct {
	ID     string                     `json:"id"`
	Status string                     `json:"status"`
	Lat    float64                    `json:"lat"`
	Lon    float64                    `json:"lon"`
	Values map[string]json.RawMessage `json:"values"`
}

type alertJSON struct {
	ID     uint64            `json:"id"`
	State  string            `json:"state"`
	Labels map[string]string `json:"labels"`
}

// getAlerts lists alerts through the api (query like "?state=firing").
func getAlerts(s *stack, query string) ([]alertJSON, error) {
	var res struct {
		Alerts []alertJSON `json:"alerts"`
	}
	err := getJSON(s.URL+"/api/v1/alerts"+query, s.ViewerToken, &res)
	return res.Alerts, err
}

// waitFor polls cond every 500 ms until it holds or the deadline passes.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(limit)
	var lastErr error
	for time.Now().Before(deadline) {
		ok, err := cond()
		if ok {
			return
		}
		lastErr = err
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("%s: not within %s (last error: %v)", what, limit, lastErr)
}

// TestDemoEndToEnd starts the demo as a newcomer would and checks what the
// README promises: stations report, series are stored, AQI is computed and
// the Long Biên flood raises an alert that reaches the SMS outbox.
func TestDemoEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole demo stack")
	}
	s, sms := startTestStack(t)
	var stations []stationJSON
	waitFor(t, "20+ stations online", 90*time.Second, func() (bool, error) {
		if err := getJSON(s.URL+"/api/v1/stations", s.ViewerToken, &stations); err != nil {
			return false, err
		}
		online := 0
		for _, st := range stations {
			if st.Status == "online" {
				online++
			}
		}
		return len(stations) >= 20 && online >= 15, fmt.Errorf("%d stations, %d online", len(stations), online)
	})
	var series struct {
		Series []json.RawMessage `json:"series"`
	}
	waitFor(t, "water level series", 30*time.Second, func() (bool, error) {
		err := getJSON(s.URL+`/api/v1/series?match=water_level_m{station="HN-LongBien"}`, s.ViewerToken, &series)
		return err == nil && len(series.Series) == 1, err
	})
	var aqi struct {
		Series []json.RawMessage `json:"series"`
	}
	waitFor(t, "VN_AQI computed", 60*time.Second, func() (bool, error) {
		err := getJSON(s.URL+`/api/v1/latest?match=aqi_vn{pollutant="overall"}`, s.ViewerToken, &aqi)
		return err == nil && len(aqi.Series) > 0, err
	})
	waitFor(t, "a flood alert firing at Long Biên", 150*time.Second, func() (bool, error) {
		all, err := getAlerts(s, "?state=firing&rule=flood_hn_longbien")
		return len(all) > 0, err
	})
	waitFor(t, "the flood SMS at the SMS centre", 60*time.Second, func() (bool, error) {
		return strings.Contains(sms.String(), "Báo động"), fmt.Errorf("printed so far: %q", sms.String())
	})
	t.Logf("SMS printed by the demo's SMS centre:\n%s", sms.String())
}

// chromium finds the browser (Debian's package), or skips saying so.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no chromium on PATH: install Debian's chromium package (scripts/test does) to run the browser tests")
	return ""
}

// artifactDir is where screenshots go: $QUANTRAC_ARTIFACTS, else testartifacts/ in the repo.
func artifactDir(t *testing.T) string {
	dir := os.Getenv("QUANTRAC_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(repoRoot, "testartifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("artifact dir: %v", err)
	}
	return dir
}

// browser starts headless Chromium and collects what the page logs as an
// error: console.error calls, uncaught exceptions and browser-log errors
// (failed requests among them).
func browser(t *testing.T) (context.Context, func() []string) {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1600, 1000),
	)
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		acancel()
		t.Fatalf("start chromium: %v", err)
	}
	var mu sync.Mutex
	var problems []string
	messages := chromedp.Console(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				mu.Lock()
				problems = append(problems, m.String())
				mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		acancel()
		<-done
	})
	return ctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), problems...)
	}
}

// jsAction runs a script in the page as a step.
func jsAction(script string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Evaluate[any](script)(ctx, tg)
		return err
	})
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	p := filepath.Join(artifactDir(t), name)
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		t.Errorf("write %s: %v", p, err)
	}
	t.Logf("screenshot: %s", p)
}

// TestDashboardInBrowser drives the dashboard in a real headless Chromium
// against the running demo: the map has a marker per station, a marker
// opens the station page, its chart has points, an alert acknowledged in
// the page is acknowledged in the API, and the page logs no errors.
func TestDashboardInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole demo stack and a browser")
	}
	chromium(t)
	s, _ := startTestStack(t)
	var stations []stationJSON
	// The demo's history makes stations look online before the collector
	// has registered them with their coordinates: wait for both.
	waitFor(t, "stations online and registered", 90*time.Second, func() (bool, error) {
		if err := getJSON(s.URL+"/api/v1/stations", s.ViewerToken, &stations); err != nil {
			return false, err
		}
		online, placed := 0, 0
		for _, st := range stations {
			if st.Status == "online" {
				online++
			}
			if st.Lat != 0 || st.Lon != 0 {
				placed++
			}
		}
		return online >= 15 && placed >= 20, fmt.Errorf("%d online, %d with coordinates", online, placed)
	})
	withCoords := 0
	for _, st := range stations {
		if st.Lat != 0 || st.Lon != 0 {
			withCoords++
		}
	}

	ctx, problems := browser(t)
	tctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()

	// Overview: one marker per station.
	start := time.Now()
	err := chromedp.Do(tctx,
		chromedp.Navigate(s.URL+"/?token="+s.OperatorToken+"#/"),
		chromedp.WaitVisible(chromedp.CSS(`#map .marker`)),
	)
	if err != nil {
		t.Fatalf("overview: %v", err)
	}
	markers, err := chromedp.Run(tctx, chromedp.Evaluate[int](`document.querySelectorAll('#map .marker').length`))
	if err != nil {
		t.Fatalf("count markers: %v", err)
	}
	t.Logf("overview with %d markers rendered in %s", markers, time.Since(start).Round(time.Millisecond))
	if markers != withCoords {
		t.Errorf("map shows %d markers, want %d (stations with coordinates)", markers, withCoords)
	}
	screenshot(t, tctx, "dashboard-overview.png")

	// A click on Long Biên's marker opens its page with a water-level chart.
	// Markers of neighbouring stations overlap at country scale, so the
	// click is dispatched on the marker itself rather than at its position.
	err = chromedp.Do(tctx,
		jsAction(`document.querySelector('#map .marker[data-station="HN-LongBien"]').dispatchEvent(new MouseEvent('click', {bubbles: true}))`),
		chromedp.WaitVisible(chromedp.CSS(`#charts .chart[data-metric="water_level_m"] canvas`)),
	)
	if err != nil {
		screenshot(t, ctx, "dashboard-station-failed.png")
		t.Fatalf("station page: %v", err)
	}
	points, err := chromedp.Run(tctx, chromedp.AttributeValue(chromedp.CSS(`#charts .chart[data-metric="water_level_m"]`), "data-points"))
	if err != nil {
		t.Fatalf("chart points: %v", err)
	}
	if points.Value == "" || points.Value == "0" {
		t.Errorf("water level chart has %q points, want some", points.Value)
	}
	title, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS(`#station-title`)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(title, "Long Biên") {
		t.Errorf("station title %q lacks the Vietnamese name", title)
	}
	screenshot(t, tctx, "dashboard-station.png")

	// The flood scenario raises an alert; acknowledge it from the page.
	var firing []alertJSON
	waitFor(t, "a firing alert", 150*time.Second, func() (bool, error) {
		all, err := getAlerts(s, "?state=firing")
		firing = all
		return len(all) > 0, err
	})
	id := fmt.Sprint(firing[0].ID)
	err = chromedp.Do(tctx,
		jsAction(`location.hash = '#/alerts'`),
		chromedp.WaitVisible(chromedp.CSS(`[data-ack="`+id+`"]`)),
	)
	if err != nil {
		t.Fatalf("alerts page: %v", err)
	}
	screenshot(t, tctx, "dashboard-alerts.png")
	if err := chromedp.Do(tctx, chromedp.Click(chromedp.CSS(`[data-ack="`+id+`"]`))); err != nil {
		t.Fatalf("click acknowledge: %v", err)
	}
	waitFor(t, "alert "+id+" acknowledged in the API", 20*time.Second, func() (bool, error) {
		all, err := getAlerts(s, "")
		if err != nil {
			return false, err
		}
		for _, a := range all {
			if fmt.Sprint(a.ID) == id {
				return a.State == "acknowledged", fmt.Errorf("state %s", a.State)
			}
		}
		return false, fmt.Errorf("alert %s gone", id)
	})
	if p := problems(); len(p) > 0 {
		t.Errorf("the page logged errors:\n%s", strings.Join(p, "\n"))
	}
}

// postJSON sends body as JSON to an api route with a token.
func postJSON(url, token string, body any) error {
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(string(data)))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: %s", url, res.Status)
	}
	return nil
}

// TestDashboardThousandStations loads the overview with 1,000 stations and
// logs how long the map and the table take to render (measured, not asserted).
func TestDashboardThousandStations(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	chromium(t)
	cfg := api.DefaultConfig()
	cfg.HTTP = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Alerting.Enabled = true
	cfg.Alerting.RulesDir = t.TempDir() // no rules: the alerts routes answer with empty lists
	tokens, err := api.OpenTokenStore(cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	ingest, err := tokens.Create("load", "ingest", "")
	if err != nil {
		t.Fatal(err)
	}
	viewer, err := tokens.Create("ioc", "viewer", "")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := api.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })

	const n = 1000
	kinds := []string{model.KindAir, model.KindHydrological, model.KindWeather}
	metrics := map[string]string{model.KindAir: "pm25_ugm3", model.KindHydrological: "water_level_m", model.KindWeather: "temperature_c"}
	var stations []model.Station
	type series struct {
		Labels map[string]string `json:"labels"`
		T      []int64           `json:"t"`
		V      []float64         `json:"v"`
	}
	var batch []series
	now := time.Now().UnixMilli()
	for i := 0; i < n; i++ {
		kind := kinds[i%len(kinds)]
		id := fmt.Sprintf("ST-%04d", i)
		prov := fmt.Sprintf("P%02d", i%30)
		// spread over Viet Nam's mainland: 8.6–23.3°N, 102.2–109.4°E
		lat := 8.6 + 14.7*float64((i*37)%n)/n
		lon := 102.2 + 7.2*float64((i*91)%n)/n
		stations = append(stations, model.Station{ID: id, Name: "Trạm " + id, Kind: kind, Province: prov, Lat: lat, Lon: lon})
		batch = append(batch, series{
			Labels: map[string]string{"__name__": metrics[kind], "station": id, "province": prov, "kind": kind},
			T:      []int64{now}, V: []float64{float64(i % 200)},
		})
	}
	if err := postJSON(srv.URL()+"/api/v1/stations", ingest, stations); err != nil {
		t.Fatal(err)
	}
	if err := postJSON(srv.URL()+"/api/v1/ingest", ingest, map[string]any{"series": batch}); err != nil {
		t.Fatal(err)
	}

	ctx, problems := browser(t)
	tctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	start := time.Now()
	err = chromedp.Do(tctx,
		chromedp.Navigate(srv.URL()+"/?token="+viewer+"#/"),
		chromedp.WaitVisible(chromedp.CSS(`#map .marker`)),
		chromedp.WaitVisible(chromedp.CSS(`#stations tbody tr`)),
	)
	if err != nil {
		t.Fatalf("overview: %v", err)
	}
	firstPaint := time.Since(start)
	markers, err := chromedp.Run(tctx, chromedp.Evaluate[int](`document.querySelectorAll('#map .marker').length`))
	if err != nil {
		t.Fatal(err)
	}
	// one refresh cycle of the page (it polls every 5 s), measured in the page
	refresh, err := chromedp.Run(tctx, chromedp.Evaluate[float64](`(async () => { const t0 = performance.now(); const r = await fetch('/api/v1/stations'); await r.json(); return performance.now() - t0; })()`, chromedp.EvalAsValue, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Logf("refresh timing: %v", err)
	}
	t.Logf("1,000 stations: overview rendered %d markers and the table in %s; /api/v1/stations fetched and parsed in the page in %.0f ms",
		markers, firstPaint.Round(time.Millisecond), refresh)
	if markers != n {
		t.Errorf("map shows %d markers, want %d", markers, n)
	}
	screenshot(t, tctx, "dashboard-1000-stations.png")
	if p := problems(); len(p) > 0 {
		t.Errorf("the page logged errors:\n%s", strings.Join(p, "\n"))
	}
}

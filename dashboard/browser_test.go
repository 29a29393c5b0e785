package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// stubAPI serves the dashboard and canned answers of the api routes it
// reads: an air station, a wastewater station without a water level, an
// offline weather station, one firing and one pending alert (pending alerts
// carry no message yet), and three minutes of 5-second points.
// Without alerting the alert routes answer 404, as the api's do when
// alerting.enabled is false.
func stubAPI(t *testing.T, alerting bool) *httptest.Server {
	t.Helper()
	now := time.Now().UnixMilli()
	stations := []map[string]any{
		{"id": "HN-KimLien", "name": "Trạm quan trắc không khí Kim Liên", "kind": "air", "province": "HN", "lat": 21.006, "lon": 105.835,
			"status": "online", "last_seen": now, "values": map[string]any{"pm25_ugm3": map[string]any{"t": now, "v": 160.4, "q": "00"}, "co_ugm3": map[string]any{"t": now, "v": 900, "q": "00"},
				// /api/v1/stations keeps one aqi_vn per station: here CO's sub-index.
				"aqi_vn": map[string]any{"t": now, "v": 7, "q": "00"}}},
		{"id": "HN-YenSo", "name": "Trạm quan trắc nước thải Yên Sở", "kind": "hydrological", "province": "HN", "lat": 20.96, "lon": 105.87,
			"status": "online", "last_seen": now, "values": map[string]any{"cod_mgl": map[string]any{"t": now, "v": 31.2, "q": "00"}}},
		{"id": "HN-Lang", "name": "Trạm khí tượng Láng", "kind": "weather", "province": "HN", "lat": 21.02, "lon": 105.80,
			"status": "offline", "last_seen": now - 3*86400e3, "values": map[string]any{"temperature_c": map[string]any{"t": now - 3*86400e3, "v": 19.5, "q": "00"}}},
	}
	alerts := map[string]any{"alerts": []map[string]any{
		{"id": 2, "rule": "qcvn08_2023_cod_mgl", "state": "pending", "severity": "critical", "level": "Mức D", "value": 31.2, "limit": 20.000000000000004, "unit": "mg/L", "message": "",
			"labels": map[string]string{"__name__": "cod_mgl", "station": "HN-YenSo"}, "active_at": time.Now().UTC().Format(time.RFC3339)},
		{"id": 1, "rule": "demo_pm25_peak", "state": "firing", "severity": "warning", "value": 160.4, "message": "Trạm quan trắc không khí Kim Liên: PM2.5 160,4 µg/m³ vượt 100",
			"labels": map[string]string{"__name__": "pm25_ugm3", "station": "HN-KimLien"}, "active_at": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)},
	}}
	var points [][2]float64
	for i := 36; i >= 0; i-- {
		points = append(points, [2]float64{float64(now - int64(i)*5000), 150 + float64(i%5)})
	}
	series := map[string]any{"series": []map[string]any{{"labels": map[string]string{}, "points": points}}}
	mux := http.NewServeMux()
	reply := func(path string, v any) {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(v)
		})
	}
	reply("/api/v1/stations", stations)
	reply("/api/v1/series", series)
	reply("/api/v1/latest", map[string]any{"series": []map[string]any{
		{"labels": map[string]string{"__name__": "aqi_vn", "pollutant": "overall", "station": "HN-KimLien"}, "t": now, "v": 210, "q": "00"}}})
	reply("/api/v1/completeness", map[string]any{"series": []any{}})
	if alerting {
		reply("/api/v1/alerts", alerts)
		reply("/api/v1/oncall/now", []any{})
		// The page is opened with a viewer token: acknowledging is refused.
		mux.HandleFunc("/api/v1/alerts/", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `{"status":"error","errorType":"forbidden","error":"token has role viewer; this route needs operator"}`)
		})
	} else {
		mux.HandleFunc("/api/v1/", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, `{"status":"error","errorType":"not_found","error":"no route GET %s"}`, r.URL.Path)
		})
	}
	mux.Handle("/", Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// TestLayoutInBrowser loads the dashboard in headless Chromium at desktop
// and phone width against stubAPI and checks what an operator sees: every
// column of the station table inside its panel, the state dot coloured by
// the station's status, a main value for a station without the kind's main
// parameter, a localised chart legend, the main parameter first, and on the
// alerts page headers, firing alerts first and a pending alert described by
// its parameter, value and limit.
func TestLayoutInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	var exe string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			exe = p
			break
		}
	}
	if exe == "" {
		t.Skip("no chromium on PATH: install Debian's chromium package (scripts/test does) to run the browser tests")
	}
	srv := stubAPI(t, true)
	noAlerting := stubAPI(t, false)

	page := func(width, height int, hash string) context.Context {
		t.Helper()
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(exe),
			chromedp.Flag("headless", true),
			chromedp.Flag("no-sandbox", true),
			chromedp.Flag("disable-gpu", true),
			chromedp.Flag("disable-background-networking", true),
			chromedp.UserDataDir(t.TempDir()),
			chromedp.WindowSize(1600, 1000),
		)
		actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancel := chromedp.NewContext(actx)
		tctx, tcancel := context.WithTimeout(ctx, 90*time.Second)
		t.Cleanup(func() { tcancel(); cancel(); acancel() })
		if width != 1600 {
			if err := chromedp.Do(tctx, chromedp.EmulateViewport(int64(width), int64(height), chromedp.EmulateMobile)); err != nil {
				t.Fatalf("emulate %dx%d: %v", width, height, err)
			}
		}
		base := srv.URL
		if strings.HasPrefix(hash, "noalerting") {
			base, hash = noAlerting.URL, strings.TrimPrefix(hash, "noalerting")
		}
		if err := chromedp.Do(tctx, chromedp.Navigate(base+"/"+hash)); err != nil {
			t.Fatalf("open %s: %v", hash, err)
		}
		return tctx
	}
	eval := func(ctx context.Context, what, script string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](script))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
	wait := func(ctx context.Context, sel string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
			t.Fatalf("wait for %s: %v", sel, err)
		}
	}
	// overflow reports columns of a table that stick out of its panel.
	overflow := func(table string) string {
		return fmt.Sprintf(`(() => { const tb = document.querySelector(%q), p = tb.closest('.panel').getBoundingClientRect();
			return [...tb.querySelectorAll('tr')].flatMap((r) => [...r.cells]).filter((c) => c.offsetParent && c.getBoundingClientRect().right > p.right + 1)
				.map((c) => c.textContent.trim()).slice(0, 3).join(' | '); })()`, table)
	}

	for _, size := range [][2]int{{1600, 1000}, {390, 844}} {
		ctx := page(size[0], size[1], "#/")
		wait(ctx, `#stations tbody tr[data-station="HN-YenSo"]`)
		if out := eval(ctx, "station table", overflow("#stations")); out != "" {
			t.Errorf("%dx%d: station table cells outside the panel (hidden behind a scroll bar): %s", size[0], size[1], out)
		}
		if size[0] != 1600 {
			continue
		}
		if c := eval(ctx, "state dot", `getComputedStyle(document.querySelector('#stations tr[data-station="HN-KimLien"] td .dot')).backgroundColor`); c != "rgb(0, 200, 83)" {
			t.Errorf("state dot of an online station is %s, want the online green (the AQI colour belongs to the value)", c)
		}
		if v := eval(ctx, "main value", `document.querySelector('#stations tr[data-station="HN-YenSo"] td.num').textContent`); !strings.Contains(v, "COD") {
			t.Errorf("main value of a station without a water level: %q, want its first parameter (COD)", v)
		}
		if c := eval(ctx, "marker", `document.querySelector('#map .marker[data-station="HN-KimLien"]').getAttribute('fill')`); c != "#8f3f97" {
			t.Errorf("marker of an air station with overall VN_AQI 210 is %s, want #8f3f97 (Rất xấu), not the colour of another pollutant's sub-index", c)
		}
		if l := eval(ctx, "legend", `(document.getElementById('legend') || {}).textContent || ''`); !strings.Contains(l, "Tốt") || !strings.Contains(l, "Nguy hại") {
			t.Errorf("map legend %q lacks the VN_AQI categories", l)
		}
	}

	ctx := page(1600, 1000, "#/station/HN-KimLien")
	wait(ctx, `#charts .chart canvas`)
	if l := eval(ctx, "chart legend", `document.querySelector('.u-legend').textContent`); strings.Contains(l, "Time") || !strings.Contains(l, "Thời gian") {
		t.Errorf("chart legend %q: want Vietnamese", l)
	}
	if v := eval(ctx, "VN_AQI value", `document.querySelector('#values .value[data-metric="aqi_vn"] b').textContent`); v != "210" {
		t.Errorf("VN_AQI on the station page %q, want the overall index 210", v)
	}
	if m := eval(ctx, "first value", `document.querySelector('#values .value').dataset.metric`); m != "pm25_ugm3" {
		t.Errorf("first current value %s, want the air station's main parameter pm25_ugm3", m)
	}

	for _, size := range [][2]int{{1600, 1000}, {390, 844}} {
		ctx := page(size[0], size[1], "#/alerts")
		wait(ctx, `#firing tr[data-alert="2"]`)
		if out := eval(ctx, "alerts table", overflow("#firing")); out != "" {
			t.Errorf("%dx%d: alerts table cells outside the panel: %s", size[0], size[1], out)
		}
		if size[0] != 1600 {
			continue
		}
		if s := eval(ctx, "order", `document.querySelector('#firing tbody tr').dataset.state`); s != "firing" {
			t.Errorf("first active alert is %s, want a firing one before pending ones", s)
		}
		if h := eval(ctx, "headers", `document.querySelector('#firing thead').textContent`); !strings.Contains(h, "Nội dung") {
			t.Errorf("alerts table headers %q", h)
		}
		msg := eval(ctx, "pending text", `document.querySelector('#firing tr[data-alert="2"] td.msg').textContent`)
		if !strings.Contains(msg, "COD 31,2 mg/L") || !strings.Contains(msg, "ngưỡng 20") {
			t.Errorf("pending alert text %q: want parameter, value with a decimal comma, unit and limit", msg)
		}
		if b := eval(ctx, "badge", `document.querySelector('#firing tr[data-alert="1"] .badge').textContent`); b != "cảnh báo" {
			t.Errorf("severity badge %q: want it in Vietnamese", b)
		}
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`[data-ack="1"]`)), chromedp.WaitVisible(chromedp.CSS(`#banner`))); err != nil {
			t.Fatalf("acknowledge with a viewer token: %v", err)
		}
		if b := eval(ctx, "banner", `document.getElementById('banner').textContent`); !strings.Contains(b, "không đủ quyền") {
			t.Errorf("banner after a refused acknowledge: %q, want it to say the token's role is too weak", b)
		}
	}

	// An unknown station id (a stale link) says so instead of an empty page.
	ctx = page(1600, 1000, "#/station/NOPE")
	wait(ctx, `#station-title`)
	if txt := eval(ctx, "unknown station", `document.getElementById('view').textContent`); !strings.Contains(txt, "Không có trạm này") {
		t.Errorf("page of an unknown station: %q", txt)
	}

	// A server without alerting: the page says so instead of "no alerts".
	ctx = page(1600, 1000, "noalerting#/alerts")
	wait(ctx, `#firing tbody td`)
	if msg := eval(ctx, "alerting off", `document.querySelector('#firing tbody td').textContent`); !strings.Contains(msg, "chưa bật cảnh báo") {
		t.Errorf("alerts page of a server without alerting says %q", msg)
	}
	ctx = page(1600, 1000, "noalerting#/")
	wait(ctx, `#stations tbody tr`)
	if c := eval(ctx, "firing counter", `document.getElementById('c-firing').textContent`); c != "–" {
		t.Errorf("firing counter of a server without alerting is %q, want –", c)
	}
}

package dashboard

import (
	"encoding/json"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestAssetsServed(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	for path, want := range map[string]string{
		"/":                           "<script src=\"app.js\">",
		"/app.js":                     "renderOverview",
		"/app.css":                    "#map",
		"/vendor/uPlot.iife.min.js":   "uPlot",
		"/vietnam.geo.json":           "FeatureCollection",
		"/vendor/LICENSE.world-atlas": "Bostock",
	} {
		res, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: status %d, body lacks %q", path, res.StatusCode, want)
		}
	}
}

func TestMapHasVietnam(t *testing.T) {
	data, err := assetsFile("vietnam.geo.json")
	if err != nil {
		t.Fatal(err)
	}
	var fc struct {
		Features []struct {
			ID string `json:"id"`
		} `json:"features"`
	}
	if err := json.Unmarshal(data, &fc); err != nil {
		t.Fatalf("vietnam.geo.json: %v", err)
	}
	found := false
	for _, f := range fc.Features {
		if f.ID == "704" { // ISO 3166 numeric code of Viet Nam
			found = true
		}
	}
	if !found {
		t.Fatal("vietnam.geo.json has no feature 704 (Viet Nam)")
	}
}

func assetsFile(name string) ([]byte, error) {
	f, err := FS().Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

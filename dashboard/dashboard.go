// Package dashboard holds the department's own web screen: an overview map of
// every station, a page per station with charts, and the alerts page. The
// files are plain HTML, CSS and JavaScript embedded in the binary, with the
// front-end libraries (uPlot) and the map outline (Natural Earth via the
// world-atlas package) committed as built files, so building needs no Node and
// an operations centre with no internet still sees its map.
package dashboard

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed assets
var assets embed.FS

// FS returns the dashboard files, rooted so that "index.html" is at the top.
func FS() fs.FS {
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic("BUG: embedded dashboard assets missing: " + err.Error())
	}
	return sub
}

// Handler serves the dashboard over net/http (the api mounts it at /).
func Handler() http.Handler {
	return http.FileServer(http.FS(FS()))
}

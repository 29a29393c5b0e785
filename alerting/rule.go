package alerting

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/template"
	"time"

	"github.com/quantrac/quantrac/model"
)

// Rule kinds.
const (
	KindThreshold = "threshold" // value above/below a limit, with hysteresis
	KindLevels    = "levels"    // one alert per series moving between ordered levels
	KindRate      = "rate"      // change per hour above a limit
	KindNoData    = "nodata"    // no sample for a duration (station offline)
	KindWindow    = "window"    // average over a window (1h, 8h, 24h) against a limit
	KindPromQL    = "promql"    // any PromQL expression; every result series is an alert
	KindQuality   = "quality"   // samples with a datalogger error status
)

// Severities, lowest first.
const (
	SeverityInfo     = "info"
	SeverityWarning  = "warning"
	SeverityCritical = "critical"
)

var severityRank = map[string]int{SeverityInfo: 1, SeverityWarning: 2, SeverityCritical: 3}

// RuleFile is the content of one rules file: a list of rules under `rules:`.
type RuleFile struct {
	Rules []*Rule `yaml:"rules"`
}

// Rule is one alerting rule as written in YAML. docs/alerting.md documents
// every key; Compile checks them and fills the unexported parsed fields.
type Rule struct {
	// Name identifies the rule; unique across all rule files. Alert state
	// is kept per (rule name, series), so renaming a rule starts afresh.
	Name string `yaml:"name"`
	// Kind is one of threshold, levels, rate, nodata, window, promql, quality.
	Kind string `yaml:"kind"`
	// Select is a series selector, e.g. water_level_m{station="HN-LongBien"}.
	// Required for every kind except promql.
	Select string `yaml:"select"`
	// For is how long the condition must hold before the alert fires
	// (pending until then). Default 0: fire at once.
	For string `yaml:"for"`
	// Severity is info, warning or critical (default warning). For levels
	// each level carries its own.
	Severity string `yaml:"severity"`
	// Message is a text/template for the SMS when the alert fires or moves
	// between levels; see docs/alerting.md for the fields. A default
	// Vietnamese text per kind is used when empty.
	Message string `yaml:"message"`
	// KeepFiringFor holds a firing alert this long after its condition
	// cleared (sample time); if the condition returns meanwhile it is the
	// same alert, no new SMS. Against flapping and sensor spikes. Default 0.
	KeepFiringFor string `yaml:"keep_firing_for"`
	// ResolvedMessage is the template sent when the alert resolves.
	ResolvedMessage string `yaml:"resolved_message"`
	// Labels are added to every alert of the rule (routing, filtering).
	Labels map[string]string `yaml:"labels"`
	// Team overrides the roster's routes: the on-call team notified.
	Team string `yaml:"team"`
	// Unit is shown after values in messages (m, µg/m³, mg/L).
	Unit string `yaml:"unit"`
	// Quality says which samples count: "good" (default: status 00 and no
	// flag) or "any".
	Quality string `yaml:"quality"`

	// Above / Below / Clear: threshold and window kinds. The alert fires
	// when value >= above (or <= below) and resolves when value < clear
	// (or > clear); clear defaults to the limit itself.
	Above *float64 `yaml:"above"`
	Below *float64 `yaml:"below"`
	Clear *float64 `yaml:"clear"`

	// Levels: levels kind, ordered from the mildest to the most severe.
	Levels []*Level `yaml:"levels"`

	// Rise / Fall: rate kind, limits on change per hour (units of the
	// series per hour), measured over Over (default 1h).
	Rise *float64 `yaml:"rise"`
	Fall *float64 `yaml:"fall"`
	Over string   `yaml:"over"`

	// NoData: nodata kind, how long without a sample before firing.
	NoData string `yaml:"nodata"`
	// GroupBy: nodata kind, labels that make one alert (default: the
	// whole series). [station] gives one "station offline" alert per station.
	GroupBy []string `yaml:"group_by"`

	// Window: window kind, the averaging window (1h, 8h, 24h ...).
	Window string `yaml:"window"`
	// MinPoints: window kind, how many hourly averages the window needs
	// before it is compared (default 1).
	MinPoints int `yaml:"min_points"`
	// Every: window, nodata and promql kinds, how often to evaluate
	// (default 1m).
	Every string `yaml:"every"`

	// Expr: promql kind, the expression; each result series is an alert.
	Expr string `yaml:"expr"`

	// Status: quality kind, datalogger statuses that fire (default ["02"]).
	Status []string `yaml:"status"`
	// Flags: quality kind, collector flags that fire too (out_of_range,
	// stuck, spike, bad_time).
	Flags []string `yaml:"flags"`

	// Disabled rules are validated but not evaluated.
	Disabled bool `yaml:"disabled"`
	// LateAfter overrides the engine's age past which a sample is late
	// (threshold, levels, rate, quality), e.g. for stations whose data
	// always arrives in hourly files. Changes caused by late samples are
	// not notified one by one.
	LateAfter string `yaml:"late_after"`

	file      string
	line      int
	matchers  []*model.Matcher
	metric    string // metric name when the selector fixes it
	forDur    time.Duration
	keep      time.Duration
	lateAfter time.Duration
	lateN     int // active alerts of the rule waiting for their series to catch up (engine, under its mu)
	over      time.Duration
	nodata    time.Duration
	window    time.Duration
	every     time.Duration
	qmask     model.Quality // quality kind: bits that fire
	qstatus   []model.Quality
	msgT      *template.Template
	resT      *template.Template
}

// Level is one step of a levels rule (flood alarm I/II/III, AQI category).
type Level struct {
	// Name is shown in messages ("Báo động I").
	Name string `yaml:"name"`
	// Above or Below: the level is reached when value >= above (<= below).
	Above *float64 `yaml:"above"`
	Below *float64 `yaml:"below"`
	// Clear: the level is kept until value < clear (> clear for below);
	// default the level's own limit.
	Clear *float64 `yaml:"clear"`
	// Severity of the alert while at this level (default warning).
	Severity string `yaml:"severity"`
	// Message overrides the rule's message at this level.
	Message string `yaml:"message"`

	msgT *template.Template
}

// File returns the file the rule was loaded from.
func (r *Rule) File() string { return r.file }

// Line returns the line of the rule in its file.
func (r *Rule) Line() int { return r.line }

// Matchers returns the parsed selector.
func (r *Rule) Matchers() []*model.Matcher { return r.matchers }

// limit returns the configured trigger value and whether the rule fires
// upward (above) or downward (below).
func (r *Rule) limit() (float64, bool) {
	if r.Above != nil {
		return *r.Above, true
	}
	if r.Below != nil {
		return *r.Below, false
	}
	return math.NaN(), true
}

// clearLevel returns the resolve value (clear, or the limit itself).
func (r *Rule) clearLevel() float64 {
	if r.Clear != nil {
		return *r.Clear
	}
	l, _ := r.limit()
	return l
}

// ParseRules parses and validates one rules file. All problems are returned
// together as ConfigErrors, each naming the file, line and field.
func ParseRules(file string, data []byte) ([]*Rule, error) {
	var rf RuleFile
	doc, err := decodeYAML(file, data, &rf)
	if err != nil {
		return nil, err
	}
	if len(rf.Rules) == 0 {
		doc.errorf("rules", "no rules: want a list under `rules:`")
	}
	names := map[string]int{}
	for i, r := range rf.Rules {
		f := fmt.Sprintf("rules[%d]", i)
		if r == nil {
			doc.errorf(f, "empty rule")
			continue
		}
		r.file = file
		r.line = doc.line(f)
		r.compile(doc, f)
		if r.Name != "" {
			if j, ok := names[r.Name]; ok {
				doc.errorf(f+".name", "rule %q already defined at rules[%d]", r.Name, j)
			}
			names[r.Name] = i
		}
	}
	if len(doc.errs) > 0 {
		return nil, doc.errs
	}
	return rf.Rules, nil
}

// LoadRules reads every *.yaml / *.yml file of dir (sorted by name) and
// returns the rules, or every problem found; a rule name used in two files
// is an error naming both.
func LoadRules(dir string) ([]*Rule, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read rules dir %s: %w", dir, err)
	}
	var files []string
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || strings.HasPrefix(n, ".") {
			continue
		}
		if strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".yml") {
			files = append(files, filepath.Join(dir, n))
		}
	}
	sort.Strings(files)
	var all []*Rule
	var errs ConfigErrors
	seen := map[string]*Rule{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, &ConfigError{File: f, Msg: err.Error()})
			continue
		}
		rules, err := ParseRules(f, data)
		if err != nil {
			if ce, ok := err.(ConfigErrors); ok {
				errs = append(errs, ce...)
			} else {
				errs = append(errs, &ConfigError{File: f, Msg: err.Error()})
			}
			continue
		}
		for _, r := range rules {
			if prev, ok := seen[r.Name]; ok {
				errs = append(errs, &ConfigError{File: f, Line: r.line, Field: "name",
					Msg: fmt.Sprintf("rule %q already defined in %s:%d", r.Name, prev.file, prev.line)})
				continue
			}
			seen[r.Name] = r
			all = append(all, r)
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return all, nil
}

var validKinds = []string{KindThreshold, KindLevels, KindRate, KindNoData, KindWindow, KindPromQL, KindQuality}

// compile validates r and fills its parsed fields; f is its path ("rules[3]").
func (r *Rule) compile(d *yamlDoc, f string) {
	if strings.TrimSpace(r.Name) == "" {
		d.errorf(f+".name", "required")
	}
	kindOK := false
	for _, k := range validKinds {
		if r.Kind == k {
			kindOK = true
		}
	}
	if !kindOK {
		d.errorf(f+".kind", "unknown kind %q: want one of %s", r.Kind, strings.Join(validKinds, ", "))
	}
	if r.Kind != KindPromQL {
		if strings.TrimSpace(r.Select) == "" {
			d.errorf(f+".select", "required: a series selector such as water_level_m{station=\"HN-LongBien\"}")
		} else if ms, err := model.ParseSelector(r.Select); err != nil {
			d.errorf(f+".select", "%v", err)
		} else {
			r.matchers = ms
			for _, m := range ms {
				if m.Name == model.MetricName && m.Type == model.MatchEqual {
					r.metric = m.Value
				}
			}
		}
	} else if r.Select != "" {
		d.errorf(f+".select", "not used by kind promql: put the selector in expr")
	}
	r.forDur = d.duration(f+".for", r.For)
	r.keep = d.duration(f+".keep_firing_for", r.KeepFiringFor)
	if r.Severity == "" {
		r.Severity = SeverityWarning
	} else if severityRank[r.Severity] == 0 {
		d.errorf(f+".severity", "unknown severity %q: want info, warning or critical", r.Severity)
	}
	switch r.Quality {
	case "", "good", "any":
	default:
		d.errorf(f+".quality", "unknown value %q: want good or any", r.Quality)
	}
	for k := range r.Labels {
		if !model.ValidLabelName(k) {
			d.errorf(f+".labels."+k, "invalid label name %q", k)
		}
	}
	r.every = time.Minute
	if r.Every != "" {
		if v := d.duration(f+".every", r.Every); v > 0 {
			r.every = v
		} else {
			d.errorf(f+".every", "must be positive")
		}
	}

	// Keys that belong to other kinds are an error, so a typo in kind
	// does not silently ignore a limit.
	unused := func(set bool, key string) {
		if set {
			d.errorf(f+"."+key, "not used by kind %s", r.Kind)
		}
	}
	switch r.Kind {
	case KindThreshold, KindWindow:
		r.checkLimit(d, f)
		unused(len(r.Levels) > 0, "levels")
		unused(r.Rise != nil || r.Fall != nil, "rise")
		unused(r.NoData != "", "nodata")
		if r.Kind == KindWindow {
			if r.Window == "" {
				d.errorf(f+".window", "required: the averaging window, e.g. 1h, 8h or 24h")
			} else if w := d.duration(f+".window", r.Window); w > 0 {
				if w < time.Hour || w%time.Hour != 0 {
					d.errorf(f+".window", "must be a whole number of hours (averages are built from hourly means)")
				}
				r.window = w
			}
			if r.MinPoints < 0 {
				d.errorf(f+".min_points", "must not be negative")
			}
		} else {
			unused(r.Window != "", "window")
		}
	case KindLevels:
		unused(r.Above != nil || r.Below != nil || r.Clear != nil, "above")
		if len(r.Levels) == 0 {
			d.errorf(f+".levels", "required: a list of {name, above|below, clear, severity}")
		}
		r.checkLevels(d, f)
	case KindRate:
		if r.Rise == nil && r.Fall == nil {
			d.errorf(f+".rise", "kind rate needs rise and/or fall (change per hour)")
		}
		if r.Rise != nil && *r.Rise <= 0 {
			d.errorf(f+".rise", "must be positive (units per hour)")
		}
		if r.Fall != nil && *r.Fall <= 0 {
			d.errorf(f+".fall", "must be positive (units per hour)")
		}
		unused(r.Above != nil || r.Below != nil, "above")
		r.over = time.Hour
		if r.Over != "" {
			if v := d.duration(f+".over", r.Over); v > 0 {
				r.over = v
			} else {
				d.errorf(f+".over", "must be positive")
			}
		}
	case KindNoData:
		if r.NoData == "" {
			d.errorf(f+".nodata", "required: how long without data, e.g. 15m")
		} else if v := d.duration(f+".nodata", r.NoData); v > 0 {
			r.nodata = v
		} else {
			d.errorf(f+".nodata", "must be positive")
		}
		for i, l := range r.GroupBy {
			if !model.ValidLabelName(l) {
				d.errorf(fmt.Sprintf("%s.group_by[%d]", f, i), "invalid label name %q", l)
			}
		}
		unused(r.Above != nil || r.Below != nil, "above")
	case KindPromQL:
		if strings.TrimSpace(r.Expr) == "" {
			d.errorf(f+".expr", "required: a PromQL expression")
		}
	case KindQuality:
		st := r.Status
		if len(st) == 0 && len(r.Flags) == 0 {
			st = []string{"02"}
		}
		for i, s := range st {
			q, err := model.ParseStatus(s)
			if err != nil {
				d.errorf(fmt.Sprintf("%s.status[%d]", f, i), "%v", err)
			}
			if q == model.QualityGood {
				d.errorf(fmt.Sprintf("%s.status[%d]", f, i), "status 00 is a good reading, not an error")
			}
			r.qstatus = append(r.qstatus, q)
		}
		for i, fl := range r.Flags {
			q, err := model.ParseQuality("00+" + fl)
			if err != nil {
				d.errorf(fmt.Sprintf("%s.flags[%d]", f, i), "unknown flag %q: want out_of_range, stuck, spike or bad_time", fl)
			}
			r.qmask |= q
		}
		unused(r.Above != nil || r.Below != nil, "above")
	}
	if r.Kind != KindNoData {
		unused(len(r.GroupBy) > 0, "group_by")
	}
	if r.Kind != KindRate {
		unused(r.Over != "", "over")
	}
	if r.Kind != KindQuality {
		unused(len(r.Status) > 0 || len(r.Flags) > 0, "status")
	}
	if r.Kind != KindPromQL {
		unused(r.Expr != "", "expr")
	}
	if r.Kind != KindWindow {
		unused(r.MinPoints != 0, "min_points")
	}
	switch r.Kind {
	case KindThreshold, KindLevels, KindRate, KindQuality:
		r.lateAfter = d.duration(f+".late_after", r.LateAfter)
	default:
		unused(r.LateAfter != "", "late_after")
	}
	r.msgT = d.template(f+".message", r.Message)
	r.resT = d.template(f+".resolved_message", r.ResolvedMessage)
}

func (r *Rule) checkLimit(d *yamlDoc, f string) {
	switch {
	case r.Above != nil && r.Below != nil:
		d.errorf(f+".below", "set either above or below, not both")
	case r.Above == nil && r.Below == nil:
		d.errorf(f+".above", "kind %s needs above or below", r.Kind)
	case r.Above != nil && r.Clear != nil && *r.Clear > *r.Above:
		d.errorf(f+".clear", "clear %v must be <= above %v (hysteresis)", *r.Clear, *r.Above)
	case r.Below != nil && r.Clear != nil && *r.Clear < *r.Below:
		d.errorf(f+".clear", "clear %v must be >= below %v (hysteresis)", *r.Clear, *r.Below)
	}
}

func (r *Rule) checkLevels(d *yamlDoc, f string) {
	dir := 0 // +1 above, -1 below
	var prev *Level
	for i, l := range r.Levels {
		lf := fmt.Sprintf("%s.levels[%d]", f, i)
		if l == nil {
			d.errorf(lf, "empty level")
			continue
		}
		if strings.TrimSpace(l.Name) == "" {
			d.errorf(lf+".name", "required")
		}
		ldir := 0
		switch {
		case l.Above != nil && l.Below != nil:
			d.errorf(lf+".below", "set either above or below, not both")
		case l.Above != nil:
			ldir = 1
		case l.Below != nil:
			ldir = -1
		default:
			d.errorf(lf+".above", "level needs above or below")
		}
		if ldir != 0 {
			if dir != 0 && ldir != dir {
				d.errorf(lf, "all levels of a rule must use above, or all below")
			}
			dir = ldir
		}
		if l.Above != nil && l.Clear != nil && *l.Clear > *l.Above {
			d.errorf(lf+".clear", "clear %v must be <= above %v (hysteresis)", *l.Clear, *l.Above)
		}
		if l.Below != nil && l.Clear != nil && *l.Clear < *l.Below {
			d.errorf(lf+".clear", "clear %v must be >= below %v (hysteresis)", *l.Clear, *l.Below)
		}
		if prev != nil && ldir == 1 && prev.Above != nil && *l.Above <= *prev.Above {
			d.errorf(lf+".above", "levels must go from mildest to most severe: %v is not above the previous level's %v", *l.Above, *prev.Above)
		}
		if prev != nil && ldir == -1 && prev.Below != nil && *l.Below >= *prev.Below {
			d.errorf(lf+".below", "levels must go from mildest to most severe: %v is not below the previous level's %v", *l.Below, *prev.Below)
		}
		if l.Severity == "" {
			l.Severity = r.Severity
		} else if severityRank[l.Severity] == 0 {
			d.errorf(lf+".severity", "unknown severity %q: want info, warning or critical", l.Severity)
		}
		l.msgT = d.template(lf+".message", l.Message)
		prev = l
	}
}

// limit returns the level's trigger value.
func (l *Level) limit() float64 {
	if l.Above != nil {
		return *l.Above
	}
	if l.Below != nil {
		return *l.Below
	}
	return math.NaN()
}

// clearLevel returns the value the level is kept until.
func (l *Level) clearLevel() float64 {
	if l.Clear != nil {
		return *l.Clear
	}
	return l.limit()
}

// template parses a message template; empty text gives nil (the default).
func (d *yamlDoc) template(field, text string) *template.Template {
	if strings.TrimSpace(text) == "" {
		return nil
	}
	t, err := template.New(field).Funcs(templateFuncs).Option("missingkey=zero").Parse(text)
	if err != nil {
		d.errorf(field, "bad template: %v", err)
		return nil
	}
	// Execute once on sample data so unknown fields fail at load, not at 2 a.m.
	if err := t.Execute(discard{}, sampleTemplateData()); err != nil {
		d.errorf(field, "bad template: %v", err)
		return nil
	}
	return t
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

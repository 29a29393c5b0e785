package mqtt

import (
	"testing"
)

func TestTemplateMatch(t *testing.T) {
	f := func(tmpl, topic, wantLabels, wantParam string, wantOK bool) {
		t.Helper()
		tp, err := ParseTemplate(tmpl)
		if err != nil {
			t.Fatalf("%s: %v", tmpl, err)
		}
		ls, param, ok := tp.Match(topic)
		got := ""
		if len(ls) > 0 {
			got = ls.String()
		}
		if ok != wantOK || got != wantLabels || param != wantParam {
			t.Errorf("%s ~ %s = %q %q %v; want %q %q %v", tmpl, topic, got, param, ok, wantLabels, wantParam, wantOK)
		}
	}
	f("stations/{province}/{station}/{parameter}", "stations/HN/HN-01/pm25_ugm3", `{province="HN",station="HN-01"}`, "pm25_ugm3", true)
	f("stations/{province}/{station}/{parameter}", "stations/HN/HN-01", "", "", false)
	f("stations/{province}/{station}/{parameter}", "stations/HN/HN-01/a/b", "", "", false)
	f("stations/{province}/{station}/{parameter}", "other/HN/HN-01/a", "", "", false)
	f("stations/{province}/{station}/{parameter}", "stations/HN//a", "", "", false)
	f("stations/{province}/{station}", "stations/HN/HN-01", `{province="HN",station="HN-01"}`, "", true)
	f("stations/{province}/{station}", "stations/HN/HN-01/", "", "", false)
	f("senml/{province}/{station}", "senml/HN/Trạm-1", `{province="HN",station="Trạm-1"}`, "", true)
	f("a/+/{station}/#", "a/x/S1/b/c", `{station="S1"}`, "", true)
	f("a/+/{station}/#", "a/x/S1", `{station="S1"}`, "", true)
	f("a/+/{station}/#", "a/x", "", "", false)
	f("#", "anything/at/all", "", "", true)
	f("a/b", "a/b", "", "", true)
	f("a/b", "a/bc", "", "", false)
}

func TestTemplateFilterAndTopic(t *testing.T) {
	tp := MustParseTemplate("stations/{province}/{station}/{parameter}")
	if got := tp.Filter(); got != "stations/+/+/+" {
		t.Errorf("filter %q", got)
	}
	topic, err := tp.Topic(map[string]string{"province": "HN", "station": "HN-01", "parameter": "pm25_ugm3"})
	if err != nil || topic != "stations/HN/HN-01/pm25_ugm3" {
		t.Errorf("topic %q, %v", topic, err)
	}
	if _, err := tp.Topic(map[string]string{"province": "HN", "station": "a/b", "parameter": "x"}); err == nil {
		t.Error("want an error for a value with /")
	}
	if got := MustParseTemplate("a/+/{x}/#").Filter(); got != "a/+/+/#" {
		t.Errorf("filter %q", got)
	}
	for _, bad := range []string{"", "a/#/b", "a/{x}/{x}", "a/{bad-name}", "a/x{y}", "a/{__name__}", "a/b+"} {
		if _, err := ParseTemplate(bad); err == nil {
			t.Errorf("template %q: want an error", bad)
		}
	}
}

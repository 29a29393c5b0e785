package alerting

import (
	"os"
	"testing"
)

// Nothing panics on any rule or roster file; errors are errors.
func FuzzParseRules(f *testing.F) {
	for _, p := range []string{"testdata/rules/flood.yaml", "testdata/kinds/kinds.yaml"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("rules:\n  - {name: a, kind: levels, select: x, levels: [null, {name: b}]}\n"))
	f.Add([]byte("rules: [null]\n"))
	f.Add([]byte("rules:\n  - name: a\n    kind: threshold\n    select: '{a=~\"(\"}'\n    above: 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ParseRules("f.yaml", data)
		ParseRoster("f.yaml", data)
		parseAckText(string(data))
	})
}

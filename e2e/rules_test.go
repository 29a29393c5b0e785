package e2e

import (
	"testing"

	"github.com/quantrac/quantrac/alerting"
)

// TestRuleFiles checks that the suite's rule files load.
func TestRuleFiles(t *testing.T) {
	for _, dir := range []string{"testdata/rules", "testdata/rules-scaleout"} {
		rs, err := alerting.LoadRules(dir)
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		if len(rs) == 0 {
			t.Fatalf("%s: no rules", dir)
		}
	}
}

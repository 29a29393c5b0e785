package modbus

import (
	"fmt"
	"strings"
	"testing"
)

func TestBuildRequests(t *testing.T) {
	// f parses a map of flow-style registers and checks the planned reads,
	// written as "table start+count [metrics]".
	f := func(name, regs string, gap int, want ...string) {
		t.Run(name, func(t *testing.T) {
			m := mustMap(t, "registers:\n"+regs)
			ptrs := make([]*Register, len(m.Registers))
			for i := range m.Registers {
				ptrs[i] = &m.Registers[i]
			}
			var status *Register
			if m.Status != nil {
				status = m.Status.Register()
			}
			var got []string
			for _, q := range buildRequests(ptrs, status, gap) {
				var names []string
				for _, f := range q.fields {
					names = append(names, fmt.Sprintf("%s@%d", f.reg.Metric, f.offset))
				}
				got = append(got, fmt.Sprintf("%s %d+%d %s", q.table, q.start, q.count, strings.Join(names, ",")))
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
	f("adjacent", `  - {metric: a, type: holding, address: 0, data_type: float32}
  - {metric: b, type: holding, address: 2, data_type: uint16}
`, 0, "holding 0+3 a@0,b@2")
	f("gap bridged", `  - {metric: a, type: holding, address: 0, data_type: uint16}
  - {metric: b, type: holding, address: 5, data_type: uint16}
`, 4, "holding 0+6 a@0,b@5")
	f("gap too wide", `  - {metric: a, type: holding, address: 0, data_type: uint16}
  - {metric: b, type: holding, address: 5, data_type: uint16}
`, 3, "holding 0+1 a@0", "holding 5+1 b@0")
	f("tables apart, sorted", `  - {metric: c, type: input, address: 1, data_type: uint16}
  - {metric: a, type: holding, address: 1, data_type: uint16}
  - {metric: b, type: coil, address: 1}
  - {metric: d, type: discrete, address: 1}
`, 10, "coil 1+1 b@0", "discrete 1+1 d@0", "holding 1+1 a@0", "input 1+1 c@0")
	f("125 register limit", `  - {metric: a, type: holding, address: 0, data_type: float64}
  - {metric: b, type: holding, address: 120, data_type: float32}
  - {metric: c, type: holding, address: 122, data_type: float32}
  - {metric: d, type: holding, address: 124, data_type: uint16}
  - {metric: e, type: holding, address: 125, data_type: uint16}
`, 200, "holding 0+125 a@0,b@120,c@122,d@124", "holding 125+1 e@0")
	f("2000 bit limit", `  - {metric: a, type: coil, address: 0}
  - {metric: b, type: coil, address: 1999}
  - {metric: c, type: coil, address: 2000}
`, 5000, "coil 0+2000 a@0,b@1999", "coil 2000+1 c@0")
	f("bits of one register never split", `  - {metric: a, type: holding, address: 7, data_type: bit, bit: 0}
  - {metric: b, type: holding, address: 7, data_type: bit, bit: 9}
`, -1, "holding 7+1 a@0,b@0")
	f("no merging", `  - {metric: a, type: holding, address: 0, data_type: uint16}
  - {metric: b, type: holding, address: 1, data_type: uint16}
`, -1, "holding 0+1 a@0", "holding 1+1 b@0")
	f("status joins its neighbours", `  - {metric: a, type: holding, address: 0, data_type: uint16}
status: {type: holding, address: 3, values: {0: "00"}}
`, 10, "holding 0+4 a@0,status@3")
}

func TestSplitRequest(t *testing.T) {
	m := mustMap(t, "registers:\n  - {metric: a, type: holding, address: 0, data_type: float32}\n  - {metric: b, type: holding, address: 4, data_type: uint16}\n")
	q := buildRequests([]*Register{&m.Registers[0], &m.Registers[1]}, nil, 10)
	if len(q) != 1 || q[0].count != 5 {
		t.Fatalf("%+v", q)
	}
	parts := q[0].split()
	if len(parts) != 2 || parts[0].start != 0 || parts[0].count != 2 || parts[1].start != 4 || parts[1].count != 1 || parts[1].fields[0].offset != 0 {
		t.Fatalf("split: %+v", parts)
	}
	if s := q[0].String(); s != "read holding 40001..40005" {
		t.Fatalf("String: %s", s)
	}
}

package modbus

import (
	"fmt"
	"sort"
)

// field is one value inside a request: the register and where its words
// start, counted from the request's first address.
type field struct {
	reg    *Register
	offset int
	status bool // the map's status register, not a series
}

// request is one read of a contiguous range of one table.
type request struct {
	table  RegisterType
	start  uint16
	count  uint16
	fields []field
}

// String names the read in errors: "read holding 40001..40010".
func (q *request) String() string {
	return fmt.Sprintf("read %s %05d..%05d", q.table, Reference(q.table, q.start), Reference(q.table, q.start+q.count-1))
}

func (q *request) end() int { return int(q.start) + int(q.count) }

// limit returns the most registers (or bits) one read of table may return.
func limit(t RegisterType) int {
	if t.IsBit() {
		return maxBits
	}
	return maxRegisters
}

// buildRequests groups the registers (and the status register, when not nil)
// into as few reads as the protocol allows: values of one table whose
// addresses are at most maxGap unused registers apart share a read, as long
// as the read stays within 125 registers (2000 bits). maxGap < 0 reads every
// value on its own. The result is ordered by table and address.
func buildRequests(regs []*Register, status *Register, maxGap int) []request {
	fields := make([]field, 0, len(regs)+1)
	for _, r := range regs {
		fields = append(fields, field{reg: r})
	}
	if status != nil {
		fields = append(fields, field{reg: status, status: true})
	}
	sort.SliceStable(fields, func(i, j int) bool {
		a, b := fields[i].reg, fields[j].reg
		if a.Type != b.Type {
			return a.Type < b.Type
		}
		return a.Address < b.Address
	})
	var out []request
	for _, f := range fields {
		r := f.reg
		start, n := int(r.Address), r.Count()
		if k := len(out) - 1; k >= 0 {
			q := &out[k]
			end := max(q.end(), start+n)
			if q.table == r.Type && (start-q.end() <= maxGap || start < q.end()) && end-int(q.start) <= limit(r.Type) {
				q.count = uint16(end - int(q.start))
				f.offset = start - int(q.start)
				q.fields = append(q.fields, f)
				continue
			}
		}
		f.offset = 0
		out = append(out, request{table: r.Type, start: r.Address, count: uint16(n), fields: []field{f}})
	}
	return out
}

// split returns one request per field of q, for when a merged read hit an
// address the device does not serve.
func (q *request) split() []request {
	out := make([]request, 0, len(q.fields))
	for _, f := range q.fields {
		f.offset = 0
		out = append(out, request{table: q.table, start: f.reg.Address, count: uint16(f.reg.Count()), fields: []field{f}})
	}
	return out
}

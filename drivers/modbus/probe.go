package modbus

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/quantrac/quantrac/model"
)

// Probe reads the map of cfg once from the device and prints every value
// in a table: series, register reference, data type, byte order, raw words
// in hex, decoded value and unit, then the status and any errors. It is the
// integrator's first tool when wiring a new datalogger; the returned error
// is the poll's (values that were read are printed anyway).
func Probe(ctx context.Context, cfg Config, out io.Writer) error {
	pool := NewPool(PoolOptions{})
	defer pool.Close()
	st := model.Station{ID: "probe", Province: "probe", Kind: "probe"}
	d, err := New(st, cfg, Options{Pool: pool})
	if err != nil {
		return err
	}
	defer d.Close()
	readings, q, perr := d.poll(ctx)
	pos := make(map[*Register]int, len(d.m.Registers))
	for i := range d.m.Registers {
		pos[&d.m.Registers[i]] = i
	}
	sort.SliceStable(readings, func(i, j int) bool { return pos[readings[i].reg] < pos[readings[j].reg] })

	fmt.Fprintf(out, "%s, map %s\n", d.name, d.m.Name)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERIES\tREGISTER\tTYPE\tORDER\tRAW\tVALUE\tUNIT")
	for _, r := range readings {
		series := r.reg.SeriesLabels().String()
		series = strings.TrimSuffix(series, "{}")
		order := string(r.reg.ByteOrder)
		if r.reg.Type.IsBit() || r.reg.Count() == 1 && r.reg.DataType != Bit {
			order = "-"
		}
		dt := string(r.reg.DataType)
		if r.reg.DataType == Bit && !r.reg.Type.IsBit() {
			dt = fmt.Sprintf("bit %d", r.reg.Bit)
		}
		value := strconv.FormatFloat(r.value, 'g', 10, 64)
		if r.err != nil {
			value = "ERROR"
		}
		fmt.Fprintf(tw, "%s\t%05d\t%s\t%s\t%s\t%s\t%s\n", series, Reference(r.reg.Type, r.reg.Address), dt, order, hexWords(r.words), value, r.reg.Unit)
	}
	tw.Flush()
	if d.m.Status != nil {
		fmt.Fprintf(out, "status register %05d: quality %s\n", Reference(d.m.Status.Type, d.m.Status.Address), q)
	}
	if perr != nil {
		fmt.Fprintf(out, "errors:\n%s\n", perr)
	}
	return perr
}

func hexWords(w []uint16) string {
	if w == nil {
		return "-"
	}
	var b strings.Builder
	for i, x := range w {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%04X", x)
	}
	return b.String()
}

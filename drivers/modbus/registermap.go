// Package modbus reads environmental stations that speak Modbus (TCP, RTU or
// ASCII) through github.com/goburrow/modbus.
//
// A RegisterMap (YAML, one per kind of datalogger) says which registers hold
// which series and how to decode them; a Device joins a map with connection
// settings and station info and turns one Poll into a batch of model.Sample.
// The same map types encode values, so a simulator serving a map writes
// exactly what the driver reads.
package modbus

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/quantrac/quantrac/model"
	"github.com/quantrac/quantrac/yamlsafe"
)

// RegisterType is the Modbus table a value lives in.
type RegisterType string

// Modbus tables.
const (
	Holding  RegisterType = "holding"  // holding registers, function 3
	Input    RegisterType = "input"    // input registers, function 4
	Coil     RegisterType = "coil"     // coils, function 1
	Discrete RegisterType = "discrete" // discrete inputs, function 2
)

// IsBit reports whether the table holds single bits (coils, discrete inputs)
// rather than 16-bit registers.
func (t RegisterType) IsBit() bool { return t == Coil || t == Discrete }

func (t RegisterType) valid() bool {
	switch t {
	case Holding, Input, Coil, Discrete:
		return true
	}
	return false
}

// DataType is how the raw registers of one value are interpreted.
type DataType string

// Data types.
const (
	Int16   DataType = "int16"
	Uint16  DataType = "uint16"
	Int32   DataType = "int32"
	Uint32  DataType = "uint32"
	Int64   DataType = "int64"
	Uint64  DataType = "uint64"
	Float32 DataType = "float32"
	Float64 DataType = "float64"
	Bit     DataType = "bit"    // one bit of a register, or a coil / discrete input
	String  DataType = "string" // ASCII digits, e.g. "12.5", NUL or space padded
)

// DataTypes lists every data type, in documentation order.
var DataTypes = []DataType{Int16, Uint16, Int32, Uint32, Int64, Uint64, Float32, Float64, Bit, String}

// words returns the number of registers a fixed-width type occupies, or 0.
func (d DataType) words() int {
	switch d {
	case Int16, Uint16, Bit:
		return 1
	case Int32, Uint32, Float32:
		return 2
	case Int64, Uint64, Float64:
		return 4
	}
	return 0
}

func (d DataType) valid() bool { return d == String || d.words() > 0 }

// ByteOrder is the order of the bytes of a multi-byte value on the wire,
// naming the bytes of the big-endian value A (most significant) to D.
type ByteOrder string

// Byte orders. For 64-bit values the pattern extends word by word:
// ABCD = ABCDEFGH, DCBA = HGFEDCBA, BADC = BADCFEHG, CDAB = GHEFCDAB.
// For 16-bit values ABCD and CDAB mean big-endian (AB), DCBA and BADC
// little-endian (BA).
const (
	ABCD ByteOrder = "ABCD" // big-endian bytes, big-endian words
	DCBA ByteOrder = "DCBA" // little-endian bytes, little-endian words
	BADC ByteOrder = "BADC" // bytes swapped within each word, big-endian words
	CDAB ByteOrder = "CDAB" // big-endian bytes, little-endian words (word swap)
)

// ByteOrders lists every byte order.
var ByteOrders = []ByteOrder{ABCD, DCBA, BADC, CDAB}

func (o ByteOrder) valid() bool {
	switch o {
	case ABCD, DCBA, BADC, CDAB:
		return true
	}
	return false
}

// Register describes one value of a map: where it is, how to decode it and
// which series it becomes.
type Register struct {
	Metric    string            `yaml:"metric"`     // series name, e.g. water_level_m
	Type      RegisterType      `yaml:"type"`       // holding, input, coil or discrete
	Address   uint16            `yaml:"address"`    // 0-based protocol address
	DataType  DataType          `yaml:"data_type"`  // see DataTypes
	ByteOrder ByteOrder         `yaml:"byte_order"` // default: the map's byte_order
	Bit       int               `yaml:"bit"`        // data_type bit on a register: 0..15
	Length    int               `yaml:"length"`     // data_type string: registers
	Scale     *float64          `yaml:"scale"`      // value = raw*scale + offset; default 1
	Offset    float64           `yaml:"offset"`     // added after scaling
	Unit      string            `yaml:"unit"`       // for people and docs only
	Labels    map[string]string `yaml:"labels"`     // extra series labels

	labels model.Labels // map labels sorted, without station labels
	pow10  float64      // 10^k when scale is 10^-k, for exact decimal scaling
}

// Status describes the optional register that carries the datalogger status
// (Circular 10/2021: 00 measuring, 01 calibrating, 02 device error).
type Status struct {
	Type      RegisterType     `yaml:"type"`
	Address   uint16           `yaml:"address"`
	DataType  DataType         `yaml:"data_type"`
	ByteOrder ByteOrder        `yaml:"byte_order"`
	Bit       int              `yaml:"bit"`
	Values    map[int64]string `yaml:"values"`  // raw value → "00", "01" or "02"
	Default   string           `yaml:"default"` // status for unlisted values; default "02"

	reg      Register
	values   map[int64]model.Quality
	fallback model.Quality
}

// RegisterMap is what one kind of datalogger exposes.
type RegisterMap struct {
	Name        string     `yaml:"-"`           // file name or the name given to ParseRegisterMap
	Description string     `yaml:"description"` // free text
	ByteOrder   ByteOrder  `yaml:"byte_order"`  // default for registers; default ABCD
	Registers   []Register `yaml:"registers"`
	Status      *Status    `yaml:"status"`
}

// LoadRegisterMap reads and validates the map file at path.
func LoadRegisterMap(path string) (*RegisterMap, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read register map: %w", err)
	}
	return ParseRegisterMap(data, path)
}

// ParseRegisterMap parses and validates a map; name (usually the file path)
// appears in every error, followed by the line and key at fault.
func ParseRegisterMap(data []byte, name string) (*RegisterMap, error) {
	m := &RegisterMap{}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("register map %s: file is empty", name)
	}
	if err := yamlsafe.UnmarshalStrict(data, m); err != nil {
		if desc, ok := yamlsafe.Describe(name, data, err); ok {
			return nil, errors.New("register map " + desc)
		}
		return nil, fmt.Errorf("register map %s: %w", name, err)
	}
	m.Name = name
	if err := m.validate(); err != nil {
		if desc, ok := yamlsafe.Describe(name, data, err); ok {
			return nil, errors.New("register map " + desc)
		}
		return nil, fmt.Errorf("register map %s: %w", name, err)
	}
	return m, nil
}

// reservedLabels are set from the station, never by a map.
var reservedLabels = map[string]bool{
	model.MetricName:    true,
	model.LabelStation:  true,
	model.LabelProvince: true,
	model.LabelKind:     true,
}

func (m *RegisterMap) validate() error {
	if m.ByteOrder == "" {
		m.ByteOrder = ABCD
	}
	m.ByteOrder = ByteOrder(strings.ToUpper(string(m.ByteOrder)))
	if !m.ByteOrder.valid() {
		return yamlsafe.FieldErrorf("$.byte_order", "unknown byte order %q: want ABCD, DCBA, BADC or CDAB", m.ByteOrder)
	}
	if len(m.Registers) == 0 {
		return yamlsafe.FieldErrorf("$.registers", "no registers: a map needs at least one")
	}
	seen := make(map[string]int, len(m.Registers))
	for i := range m.Registers {
		r := &m.Registers[i]
		path := fmt.Sprintf("$.registers[%d]", i)
		if r.Metric == "" {
			return yamlsafe.FieldErrorf(path+".metric", "missing metric name")
		}
		if !model.ValidMetricName(r.Metric) {
			return yamlsafe.FieldErrorf(path+".metric", "invalid metric name %q", r.Metric)
		}
		if err := r.prepare(path, m.ByteOrder); err != nil {
			return err
		}
		pairs := make([]string, 0, 2*len(r.Labels))
		for k, v := range r.Labels {
			if reservedLabels[k] {
				return yamlsafe.FieldErrorf(path+".labels."+k, "label %q is set from the station and cannot be set by a map", k)
			}
			if !model.ValidLabelName(k) {
				return yamlsafe.FieldErrorf(path+".labels."+k, "invalid label name %q", k)
			}
			if v == "" {
				return yamlsafe.FieldErrorf(path+".labels."+k, "label %q has an empty value", k)
			}
			pairs = append(pairs, k, v)
		}
		r.labels = model.New(r.Metric, pairs...)
		key := r.labels.String()
		if j, ok := seen[key]; ok {
			return yamlsafe.FieldErrorf(path+".metric", "series %s is already read by registers[%d]; add labels to tell them apart", key, j)
		}
		seen[key] = i
	}
	if err := checkOverlap(m.Registers); err != nil {
		return err
	}
	if m.Status != nil {
		if err := m.Status.prepare(m.ByteOrder); err != nil {
			return err
		}
	}
	return nil
}

// prepare validates r and fills defaults; path names r in errors.
func (r *Register) prepare(path string, defOrder ByteOrder) error {
	if r.Type == "" {
		return yamlsafe.FieldErrorf(path+".type", "missing register type: want holding, input, coil or discrete")
	}
	r.Type = RegisterType(strings.ToLower(string(r.Type)))
	if !r.Type.valid() {
		return yamlsafe.FieldErrorf(path+".type", "unknown register type %q: want holding, input, coil or discrete", r.Type)
	}
	r.DataType = DataType(strings.ToLower(string(r.DataType)))
	if r.DataType == "" {
		if !r.Type.IsBit() {
			return yamlsafe.FieldErrorf(path+".data_type", "missing data type: want one of %s", dataTypeList())
		}
		r.DataType = Bit
	}
	if !r.DataType.valid() {
		return yamlsafe.FieldErrorf(path+".data_type", "unknown data type %q: want one of %s", r.DataType, dataTypeList())
	}
	if r.Type.IsBit() && r.DataType != Bit {
		return yamlsafe.FieldErrorf(path+".data_type", "a %s holds single bits: data type must be bit, not %s", r.Type, r.DataType)
	}
	if r.ByteOrder == "" {
		r.ByteOrder = defOrder
	}
	r.ByteOrder = ByteOrder(strings.ToUpper(string(r.ByteOrder)))
	if !r.ByteOrder.valid() {
		return yamlsafe.FieldErrorf(path+".byte_order", "unknown byte order %q: want ABCD, DCBA, BADC or CDAB", r.ByteOrder)
	}
	if r.Bit < 0 || r.Bit > 15 {
		return yamlsafe.FieldErrorf(path+".bit", "bit %d out of range 0..15", r.Bit)
	}
	if r.Bit != 0 && (r.DataType != Bit || r.Type.IsBit()) {
		return yamlsafe.FieldErrorf(path+".bit", "bit is only for data type bit on a holding or input register")
	}
	switch {
	case r.DataType == String && (r.Length < 1 || r.Length > maxRegisters):
		return yamlsafe.FieldErrorf(path+".length", "string length %d registers out of range 1..%d", r.Length, maxRegisters)
	case r.DataType != String && r.Length != 0:
		return yamlsafe.FieldErrorf(path+".length", "length is only for data type string")
	}
	if end := int(r.Address) + r.Count() - 1; end > 0xFFFF {
		return yamlsafe.FieldErrorf(path+".address", "address %d plus %d registers runs past 65535", r.Address, r.Count())
	}
	if r.Scale != nil && *r.Scale == 0 {
		return yamlsafe.FieldErrorf(path+".scale", "scale 0 would make every value 0; omit it for 1")
	}
	if r.Scale != nil {
		r.pow10 = powerOfTen(*r.Scale)
	}
	return nil
}

func dataTypeList() string {
	s := make([]string, len(DataTypes))
	for i, d := range DataTypes {
		s[i] = string(d)
	}
	return strings.Join(s, " ")
}

// checkOverlap rejects two non-bit values sharing a register: almost always a
// typo in an address. Bits of one register may share it.
func checkOverlap(regs []Register) error {
	type span struct {
		t          RegisterType
		start, end int
		i          int
	}
	var spans []span
	for i, r := range regs {
		if r.DataType == Bit {
			continue
		}
		spans = append(spans, span{r.Type, int(r.Address), int(r.Address) + r.Count(), i})
	}
	sort.Slice(spans, func(a, b int) bool {
		if spans[a].t != spans[b].t {
			return spans[a].t < spans[b].t
		}
		return spans[a].start < spans[b].start
	})
	for k := 1; k < len(spans); k++ {
		p, s := spans[k-1], spans[k]
		if p.t == s.t && s.start < p.end {
			i, j := p.i, s.i
			if i > j {
				i, j = j, i
			}
			return yamlsafe.FieldErrorf(fmt.Sprintf("$.registers[%d].address", j),
				"%s registers %d..%d overlap registers[%d] (%s %d..%d)",
				regs[j].Type, regs[j].Address, int(regs[j].Address)+regs[j].Count()-1,
				i, regs[i].Type, regs[i].Address, int(regs[i].Address)+regs[i].Count()-1)
		}
	}
	return nil
}

func (s *Status) prepare(defOrder ByteOrder) error {
	s.reg = Register{
		Metric:    "status",
		Type:      s.Type,
		Address:   s.Address,
		DataType:  s.DataType,
		ByteOrder: s.ByteOrder,
		Bit:       s.Bit,
	}
	if s.reg.DataType == "" && !s.reg.Type.IsBit() {
		s.reg.DataType = Uint16
	}
	if err := s.reg.prepare("$.status", defOrder); err != nil {
		return err
	}
	if s.reg.DataType == String || s.reg.DataType == Float32 || s.reg.DataType == Float64 {
		return yamlsafe.FieldErrorf("$.status.data_type", "a status register must be an integer or bit, not %s", s.reg.DataType)
	}
	s.Type, s.DataType, s.ByteOrder = s.reg.Type, s.reg.DataType, s.reg.ByteOrder
	if len(s.Values) == 0 {
		return yamlsafe.FieldErrorf("$.status.values", "missing values: map raw values to status, e.g. {0: \"00\", 1: \"01\", 2: \"02\"}")
	}
	s.values = make(map[int64]model.Quality, len(s.Values))
	for raw, text := range s.Values {
		q, err := model.ParseStatus(text)
		if err != nil {
			return yamlsafe.FieldErrorf(fmt.Sprintf("$.status.values.%d", raw), "%v", err)
		}
		s.values[raw] = q
	}
	s.fallback = model.QualityDeviceError
	if s.Default != "" {
		q, err := model.ParseStatus(s.Default)
		if err != nil {
			return yamlsafe.FieldErrorf("$.status.default", "%v", err)
		}
		s.fallback = q
	}
	return nil
}

// Register returns the status register as a plain register (for reading and
// for a simulator to encode into).
func (s *Status) Register() *Register { return &s.reg }

// Quality maps the decoded raw status value to a quality; values the map
// does not list get the default (02, device error, unless set).
func (s *Status) Quality(raw float64) model.Quality {
	if q, ok := s.values[int64(raw)]; ok && float64(int64(raw)) == raw {
		return q
	}
	return s.fallback
}

// RawFor returns a raw value that maps to quality q, for simulators; ok is
// false when the map lists no such value.
func (s *Status) RawFor(q model.Quality) (raw int64, ok bool) {
	best, found := int64(0), false
	for r, v := range s.values {
		if v == q.Status() && (!found || r < best) {
			best, found = r, true
		}
	}
	return best, found
}

// Count returns how many registers (or bits, for coils and discrete inputs)
// the value occupies.
func (r *Register) Count() int {
	if r.DataType == String {
		return r.Length
	}
	if r.Type.IsBit() {
		return 1
	}
	return r.DataType.words()
}

// SeriesLabels returns the series labels the map gives the register
// (metric plus map labels), sorted; the device adds station labels.
func (r *Register) SeriesLabels() model.Labels {
	if r.labels == nil {
		return model.New(r.Metric)
	}
	return r.labels
}

func (r *Register) scale() float64 {
	if r.Scale == nil {
		return 1
	}
	return *r.Scale
}

// LoadRegisterMapsDir loads every *.yaml and *.yml file of dir, keyed by
// file name without extension; the first bad file stops it.
func LoadRegisterMapsDir(dir string) (map[string]*RegisterMap, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("cannot list register maps: %w", err)
	}
	maps := make(map[string]*RegisterMap)
	for _, e := range entries {
		ext := filepath.Ext(e.Name())
		if e.IsDir() || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		m, err := LoadRegisterMap(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		maps[strings.TrimSuffix(e.Name(), ext)] = m
	}
	return maps, nil
}

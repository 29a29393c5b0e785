package standards

import (
	"fmt"

	"github.com/quantrac/quantrac/model"
)

// Circular 10/2021/TT-BTNMT (datalogger files of automatic, continuous
// monitoring stations) gives each reading a status: 00 measuring, 01
// calibrating, 02 device error. This is the one place quantrac maps them to
// model.Quality; model.ParseStatus does the parsing.
const circular10 = "Circular 10/2021/TT-BTNMT"

// StatusInfo describes one datalogger status.
type StatusInfo struct {
	Code    string        // "00", "01", "02"
	Quality model.Quality // what is stored with the sample
	Name    string        // Vietnamese
	NameEN  string
	// Valid says whether a reading with this status counts towards averages,
	// indices, compliance and the completeness figure.
	Valid  bool
	Source string
}

// Statuses lists the Circular 10/2021/TT-BTNMT statuses.
var Statuses = []StatusInfo{
	{Code: "00", Quality: model.QualityGood, Name: "Đang đo", NameEN: "measuring", Valid: true, Source: circular10},
	{Code: "01", Quality: model.QualityCalibrating, Name: "Hiệu chuẩn", NameEN: "calibrating", Source: circular10},
	{Code: "02", Quality: model.QualityDeviceError, Name: "Báo lỗi thiết bị", NameEN: "device error", Source: circular10},
}

// ParseStatus maps a datalogger status field to the stored quality; it is
// model.ParseStatus, named here so callers find the mapping with the rules.
func ParseStatus(s string) (model.Quality, error) {
	q, err := model.ParseStatus(s)
	if err != nil {
		return 0, fmt.Errorf("%s status: %w", circular10, err)
	}
	return q, nil
}

// StatusOf returns the Circular 10 status of a stored quality, ignoring the
// collector's flags.
func StatusOf(q model.Quality) StatusInfo {
	st := q.Status()
	for _, s := range Statuses {
		if s.Quality == st {
			return s
		}
	}
	return StatusInfo{Code: fmt.Sprintf("%02d", uint8(st)), Quality: st, Name: "không xác định", NameEN: "unknown"}
}

// ValidForCompliance reports whether a sample may be used for indices,
// averages and compliance: status 00 and no flag from the collector's checks
// (out of range, stuck, spike, bad time). Decision 1459/QĐ-TCMT, 2.1.a asks
// for data that passed quality control, which is what the flags record.
func ValidForCompliance(q model.Quality) bool { return q.Good() }

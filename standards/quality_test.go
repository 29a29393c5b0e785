package standards

import (
	"testing"

	"github.com/quantrac/quantrac/model"
)

func TestCircular10Statuses(t *testing.T) {
	for _, s := range Statuses {
		q, err := ParseStatus(s.Code)
		if err != nil || q != s.Quality {
			t.Errorf("%s → %v, %v; want %v", s.Code, q, err, s.Quality)
		}
		if got := StatusOf(q | model.QualitySpike); got.Code != s.Code {
			t.Errorf("StatusOf(%v+spike) = %s; want %s", q, got.Code, s.Code)
		}
		if ValidForCompliance(q) != s.Valid {
			t.Errorf("%s: valid %v; want %v", s.Code, !s.Valid, s.Valid)
		}
	}
	if _, err := ParseStatus("03"); err == nil {
		t.Error("03 accepted")
	}
	if ValidForCompliance(model.QualityGood | model.QualityStuck) {
		t.Error("a flagged 00 sample must not count")
	}
	if got := StatusOf(0x03); got.NameEN != "unknown" {
		t.Errorf("StatusOf(3) = %+v", got)
	}
}

package sms

import (
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// vn200 is a 200-character Vietnamese alert.
var vn200 = func() string {
	s := "Trạm thủy văn Long Biên: Báo động II! Mực nước sông Hồng 10,62 m (mốc 10,5) lúc 02:00 25/11/2026. Đề nghị cán bộ trực ban kiểm tra đê điều, thông báo UBND phường ven sông. Trả lời OK 123 để nhận xử lý"
	r := []rune(s)
	for len(r) < 200 {
		r = append(r, '.')
	}
	return string(r[:200])
}()

func TestSplitUCS2(t *testing.T) {
	if n := utf8.RuneCountInString(vn200); n != 200 {
		t.Fatalf("fixture has %d characters", n)
	}
	// Decomposed input (as some keyboards produce) is normalised first.
	parts := splitUCS2(norm.NFD.String(vn200), 0x42)
	if len(parts) != 3 {
		t.Fatalf("200 UCS-2 characters: want 3 parts, got %d", len(parts))
	}
	var sb strings.Builder
	for i, p := range parts {
		if p.coding != codingUCS2 || !p.udh || len(p.data) > 140 {
			t.Fatalf("part %d: coding %x udh %v len %d", i, p.coding, p.udh, len(p.data))
		}
		want := []byte{0x05, 0x00, 0x03, 0x42, 3, byte(i + 1)}
		if string(p.data[:6]) != string(want) {
			t.Fatalf("part %d UDH % x, want % x", i, p.data[:6], want)
		}
		sb.WriteString(DecodeUCS2(p.data[6:]))
	}
	if len(parts[0].data) != 140 || len(parts[2].data) != 6+2*(200-134) {
		t.Fatalf("part sizes %d %d", len(parts[0].data), len(parts[2].data))
	}
	if sb.String() != vn200 {
		t.Fatalf("reassembled %q", sb.String())
	}
	one := splitUCS2("Đã hết cảnh báo #7", 1)
	if len(one) != 1 || one[0].udh || DecodeUCS2(one[0].data) != "Đã hết cảnh báo #7" {
		t.Fatalf("short message: %+v", one)
	}
	if got := splitUCS2(strings.Repeat("ệ", 70), 1); len(got) != 1 {
		t.Fatalf("70 characters must fit one SMS, got %d parts", len(got))
	}
}

func TestGSM7(t *testing.T) {
	if got := StripDiacritics("Trạm thủy văn Long Biên: Báo động III, Đề nghị"); got != "Tram thuy van Long Bien: Bao dong III, De nghi" {
		t.Fatalf("strip: %q", got)
	}
	parts := splitGSM7(vn200, 9)
	if len(parts) != 2 {
		t.Fatalf("200 GSM-7 characters: want 2 parts, got %d", len(parts))
	}
	var sb strings.Builder
	for _, p := range parts {
		if p.coding != codingGSM7 || len(p.data) > 6+153 {
			t.Fatalf("part: %+v", p)
		}
		sb.WriteString(DecodeGSM7(p.data[6:]))
	}
	if sb.String() != StripDiacritics(vn200) {
		t.Fatalf("gsm7 round trip: %q", sb.String())
	}
	// An escape pair is never split across parts.
	txt := strings.Repeat("a", 152) + "€" + strings.Repeat("b", 10)
	parts = splitGSM7(txt, 1)
	if len(parts) != 2 || len(parts[0].data) != 6+152 {
		t.Fatalf("escape split: %d parts, first %d", len(parts), len(parts[0].data))
	}
}

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		err   error
		retry bool
	}{
		{statusThrottled, true}, {statusMsgQFul, true}, {statusSysErr, true}, {statusTempAppErr, true},
		{statusInvDstAdr, false}, {statusInvMsgLen, false}, {statusPermAppErr, false},
		{ErrNotBound, true},
	} {
		if got := Classify(c.err); got != c.retry {
			t.Fatalf("%v: retry %v, want %v", c.err, got, c.retry)
		}
	}
}

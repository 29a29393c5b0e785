package modbus

import (
	"errors"
	"fmt"

	mb "github.com/goburrow/modbus"
)

// Exception codes a device answers with (Modbus application protocol 7).
const (
	ExceptionIllegalFunction    = mb.ExceptionCodeIllegalFunction
	ExceptionIllegalDataAddress = mb.ExceptionCodeIllegalDataAddress
	ExceptionIllegalDataValue   = mb.ExceptionCodeIllegalDataValue
	ExceptionDeviceFailure      = mb.ExceptionCodeServerDeviceFailure
	ExceptionAcknowledge        = mb.ExceptionCodeAcknowledge
	ExceptionBusy               = mb.ExceptionCodeServerDeviceBusy
	ExceptionGatewayPath        = mb.ExceptionCodeGatewayPathUnavailable
	ExceptionGatewayTarget      = mb.ExceptionCodeGatewayTargetDeviceFailedToRespond
)

var exceptionNames = map[byte]string{
	1:  "illegal function",
	2:  "illegal data address",
	3:  "illegal data value",
	4:  "server device failure",
	5:  "acknowledge",
	6:  "server device busy",
	8:  "memory parity error",
	10: "gateway path unavailable",
	11: "gateway target device failed to respond",
}

// ExceptionError is a well-formed exception answer from a device: the link
// is fine, the device refused the request.
type ExceptionError struct {
	Station string
	Slave   byte
	Table   RegisterType
	Start   uint16 // first 0-based address of the read
	Count   uint16
	Code    byte
	err     error
}

// Error reads like "illegal data address 40105 on station HN-01 slave 3
// (read holding 40105..40114, exception 2)".
func (e *ExceptionError) Error() string {
	name, ok := exceptionNames[e.Code]
	if !ok {
		name = fmt.Sprintf("unknown exception %d", e.Code)
	}
	what := name
	if e.Code == ExceptionIllegalDataAddress || e.Code == ExceptionIllegalDataValue {
		what = fmt.Sprintf("%s %05d", name, Reference(e.Table, e.Start))
	}
	return fmt.Sprintf("%s on station %s slave %d (read %s %05d..%05d, exception %d)",
		what, e.Station, e.Slave, e.Table, Reference(e.Table, e.Start),
		Reference(e.Table, e.Start+e.Count-1), e.Code)
}

// Unwrap returns goburrow's *modbus.ModbusError.
func (e *ExceptionError) Unwrap() error { return e.err }

// Busy reports whether the device asked to be asked again later.
func (e *ExceptionError) Busy() bool {
	return e.Code == ExceptionBusy || e.Code == ExceptionAcknowledge
}

// Reference renders a 0-based address the way device manuals number it:
// coils 00001, discrete inputs 10001, input registers 30001, holding
// registers 40001 (six digits past address 9998: 400001 + address).
func Reference(t RegisterType, addr uint16) int {
	prefix := 0
	switch t {
	case Discrete:
		prefix = 1
	case Input:
		prefix = 3
	case Holding:
		prefix = 4
	}
	if addr < 9999 {
		return prefix*10000 + int(addr) + 1
	}
	return prefix*100000 + int(addr) + 1
}

// asException returns the device's exception code when err is one.
func asException(err error) (*mb.ModbusError, bool) {
	var me *mb.ModbusError
	if errors.As(err, &me) {
		return me, true
	}
	return nil, false
}

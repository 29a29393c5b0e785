package modbus

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"

	mb "github.com/goburrow/modbus"
	"github.com/goburrow/serial"
)

// serialTransport carries RTU and ASCII frames over a serial port in place
// of goburrow's own transporters, which take no lock, cannot tell an RTU
// exception answer by its function code, and leave a late answer in the
// input buffer where the next request reads it as its own (with a valid
// CRC when the requests match: silently wrong values). This one drains the
// line before every request, waits for exactly the frame the request calls
// for, and bounds each answer by the calling device's timeout. goburrow's
// packagers still build and check the frames.
type serialTransport struct {
	cfg     serial.Config // Timeout is the inter-frame gap, see frameGap
	ascii   bool
	timeout time.Duration // for the whole answer; set per request
	port    io.ReadWriteCloser
}

var _ mb.Transporter = (*serialTransport)(nil)

func newSerialTransport(e endpoint) *serialTransport {
	return &serialTransport{
		cfg: serial.Config{
			Address:  e.addr,
			BaudRate: e.baud,
			DataBits: e.dataBits,
			Parity:   e.parity,
			StopBits: e.stopBits,
			Timeout:  frameGap(e.baud),
		},
		ascii:   e.scheme == "ascii",
		timeout: DefaultTimeout,
	}
}

// frameGap is the silence that ends an RTU frame: 3.5 characters of 11 bits,
// at least 2 ms (the spec's fixed 1.75 ms above 19200 baud, plus margin).
func frameGap(baud int) time.Duration {
	if baud <= 0 {
		baud = 9600
	}
	return max(2*time.Millisecond, time.Duration(3.5*11*float64(time.Second)/float64(baud)))
}

// Connect opens the port if it is not open.
func (t *serialTransport) Connect() error {
	if t.port != nil {
		return nil
	}
	p, err := serial.Open(&t.cfg)
	if err != nil {
		return err
	}
	t.port = p
	return nil
}

// Close closes the port; the next request reopens it.
func (t *serialTransport) Close() error {
	if t.port == nil {
		return nil
	}
	err := t.port.Close()
	t.port = nil
	return err
}

// Send writes one request frame and returns the answer frame.
func (t *serialTransport) Send(req []byte) ([]byte, error) {
	if err := t.Connect(); err != nil {
		return nil, err
	}
	if err := t.drain(); err != nil {
		return nil, err
	}
	if _, err := t.port.Write(req); err != nil {
		return nil, fmt.Errorf("write: %w", err)
	}
	if t.ascii {
		return t.readASCII()
	}
	return t.readRTU(req)
}

// drain discards whatever is on the line (a late answer, noise) until it
// has been silent for one frame gap.
func (t *serialTransport) drain() error {
	var buf [256]byte
	deadline := time.Now().Add(t.timeout)
	for {
		n, err := t.port.Read(buf[:])
		if errors.Is(err, serial.ErrTimeout) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("drain: %w", err)
		}
		if n == 0 {
			return fmt.Errorf("drain: %w", io.EOF)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("line never silent for %v: another master or noise on the bus", t.cfg.Timeout)
		}
	}
}

// errNoAnswer is the timeout of a serial request.
var errNoAnswer = errors.New("timeout waiting for the answer")

// rtuAnswerLen is the length of a normal answer to req (0: unknown).
func rtuAnswerLen(req []byte) int {
	if len(req) < 6 {
		return 0
	}
	q := int(req[4])<<8 | int(req[5])
	switch req[1] {
	case mb.FuncCodeReadCoils, mb.FuncCodeReadDiscreteInputs:
		return 5 + (q+7)/8
	case mb.FuncCodeReadHoldingRegisters, mb.FuncCodeReadInputRegisters:
		return 5 + 2*q
	case mb.FuncCodeWriteSingleCoil, mb.FuncCodeWriteSingleRegister,
		mb.FuncCodeWriteMultipleCoils, mb.FuncCodeWriteMultipleRegisters:
		return 8
	}
	return 0
}

// readRTU reads until the frame the request calls for is complete: the
// normal answer, or 5 bytes when the function code has the exception bit.
// An answer of unknown shape ends at a frame gap and is left to the
// packager's checks.
func (t *serialTransport) readRTU(req []byte) ([]byte, error) {
	deadline := time.Now().Add(t.timeout)
	buf := make([]byte, 0, 256)
	var tmp [256]byte
	want := 0
	for {
		n, err := t.port.Read(tmp[:])
		buf = append(buf, tmp[:n]...)
		if want == 0 && len(buf) >= 2 {
			switch {
			case buf[1] == req[1]:
				want = rtuAnswerLen(req)
			case buf[1] == req[1]|0x80:
				want = 5
			}
			if want == 0 {
				want = -1
			}
		}
		if want > 0 && len(buf) >= want {
			return buf[:want], nil // extra bytes are drained before the next request
		}
		if len(buf) > 256 {
			return nil, fmt.Errorf("answer longer than 256 bytes")
		}
		switch {
		case errors.Is(err, serial.ErrTimeout):
			if want < 0 {
				return buf, nil
			}
			if time.Now().After(deadline) {
				if len(buf) == 0 {
					return nil, fmt.Errorf("%w after %v", errNoAnswer, t.timeout)
				}
				return nil, fmt.Errorf("%w after %v: got %d of %d bytes", errNoAnswer, t.timeout, len(buf), want)
			}
		case err != nil:
			return nil, fmt.Errorf("read: %w", err)
		case n == 0:
			return nil, fmt.Errorf("read: %w", io.EOF)
		}
	}
}

// readASCII reads one ':' ... CRLF frame.
func (t *serialTransport) readASCII() ([]byte, error) {
	deadline := time.Now().Add(t.timeout)
	buf := make([]byte, 0, 513)
	var tmp [256]byte
	for {
		n, err := t.port.Read(tmp[:])
		buf = append(buf, tmp[:n]...)
		if i := bytes.IndexByte(buf, ':'); i > 0 {
			buf = buf[i:] // noise before the start of the frame
		}
		if len(buf) > 1 && bytes.HasSuffix(buf, []byte("\r\n")) {
			return buf, nil
		}
		if len(buf) > 513 {
			return nil, fmt.Errorf("answer longer than 513 characters")
		}
		switch {
		case errors.Is(err, serial.ErrTimeout):
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("%w after %v: got %q", errNoAnswer, t.timeout, buf)
			}
		case err != nil:
			return nil, fmt.Errorf("read: %w", err)
		case n == 0:
			return nil, fmt.Errorf("read: %w", io.EOF)
		}
	}
}

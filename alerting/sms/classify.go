package sms

import (
	"errors"

	"github.com/fiorix/go-smpp/smpp/pdu"
)

// SMPP 3.4 command_status values that matter for retrying.
const (
	statusInvMsgLen   pdu.Status = 0x01 // ESME_RINVMSGLEN
	statusInvCmdLen   pdu.Status = 0x02 // ESME_RINVCMDLEN
	statusInvBndSts   pdu.Status = 0x04 // ESME_RINVBNDSTS: not bound yet
	statusSysErr      pdu.Status = 0x08 // ESME_RSYSERR
	statusInvSrcAdr   pdu.Status = 0x0A // ESME_RINVSRCADR
	statusInvDstAdr   pdu.Status = 0x0B // ESME_RINVDSTADR
	statusMsgQFul     pdu.Status = 0x14 // ESME_RMSGQFUL
	statusInvEsmClass pdu.Status = 0x43 // ESME_RINVESMCLASS
	statusSubmitFail  pdu.Status = 0x45 // ESME_RSUBMITFAIL
	statusInvSrcTON   pdu.Status = 0x48 // ESME_RINVSRCTON
	statusInvSrcNPI   pdu.Status = 0x49 // ESME_RINVSRCNPI
	statusInvDstTON   pdu.Status = 0x50 // ESME_RINVDSTTON
	statusInvDstNPI   pdu.Status = 0x51 // ESME_RINVDSTNPI
	statusThrottled   pdu.Status = 0x58 // ESME_RTHROTTLED
	statusInvExpiry   pdu.Status = 0x62 // ESME_RINVEXPIRY
	statusInvDCS      pdu.Status = 0x104
	statusTempAppErr  pdu.Status = 0x64 // ESME_RX_T_APPN
	statusPermAppErr  pdu.Status = 0x65 // ESME_RX_P_APPN
	statusRejAppErr   pdu.Status = 0x66 // ESME_RX_R_APPN
)

// giveUp lists statuses where sending the same message again cannot help:
// the message or its addresses are wrong, or the SMSC refuses it for good.
var giveUp = map[pdu.Status]bool{
	statusInvMsgLen: true, statusInvCmdLen: true, statusInvSrcAdr: true, statusInvDstAdr: true,
	statusInvEsmClass: true, statusInvSrcTON: true, statusInvSrcNPI: true, statusInvDstTON: true,
	statusInvDstNPI: true, statusInvExpiry: true, statusInvDCS: true, statusPermAppErr: true, statusRejAppErr: true,
}

// Classify says whether a submit error is worth retrying. command_status
// values that name a bad message or address give up; throttling, queue
// full, system errors, unknown vendor codes, timeouts and lost binds retry.
func Classify(err error) (retry bool) {
	if err == nil {
		return false
	}
	var st pdu.Status
	if errors.As(err, &st) {
		return !giveUp[st]
	}
	return true
}

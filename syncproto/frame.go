package syncproto

import (
	"encoding/json"
	"fmt"
)

// FrameType is the value of a frame's "type" member.
type FrameType string

// Frame types of protocol version 1. The direction is the one the protocol
// allows; see SPEC.md §4.
const (
	TypeChallenge     FrameType = "challenge"      // server → client, first frame
	TypeHello         FrameType = "hello"          // client → server, answers challenge
	TypeWelcome       FrameType = "welcome"        // server → client, ends a successful handshake
	TypePush          FrameType = "push"           // client → server, a batch of ops
	TypeAck           FrameType = "ack"            // server → client, answers one push
	TypeChanges       FrameType = "changes"        // server → client, down feed
	TypeChangesAck    FrameType = "changes_ack"    // client → server, cursor durably applied
	TypeSnapshotBegin FrameType = "snapshot_begin" // server → client, starts a snapshot
	TypeSnapshotEnd   FrameType = "snapshot_end"   // server → client, ends a snapshot
	TypePing          FrameType = "ping"           // either way, heartbeat
	TypePong          FrameType = "pong"           // either way, answers ping
	TypeError         FrameType = "error"          // either way, ends the connection
	TypeBye           FrameType = "bye"            // either way, ends the connection
)

// Frame is one protocol message. Only the pointer types of this package
// implement it (*Challenge, *Hello, ...); Decode returns those.
type Frame interface {
	// FrameType returns the frame's wire type.
	FrameType() FrameType
	// validate checks the constraints Decode enforces beyond JSON syntax.
	validate() error
}

// Limits of protocol version 1. A peer that exceeds one is sent an error.
const (
	// DefaultMaxFrame is the default largest encoded frame, in bytes.
	DefaultMaxFrame = 4 << 20
	// MaxBatchOps is the largest number of ops in one push.
	MaxBatchOps = 500
	// MaxInflightBatches is the largest number of pushes a client may have
	// sent and not yet seen acknowledged on one connection.
	MaxInflightBatches = 4
	// MaxOpPayload is the largest payload of one op, in bytes. An edge must
	// refuse to enqueue a bigger op, so a batch of one op always fits a frame.
	MaxOpPayload = 256 << 10
	// MaxChangeItems is the largest number of items in one changes frame.
	MaxChangeItems = 500
	// MaxInflightChanges is the largest number of live (non-snapshot)
	// changes frames a server may have sent and not yet seen acknowledged.
	MaxInflightChanges = 4
	// NonceSize is the size of the challenge nonce, in bytes.
	NonceSize = 32
)

// Op kinds defined today. The set is open: the cloud rejects (as a poison
// op, not a connection error) a kind it does not know.
const (
	KindVisitCheckIn  = "visit.check_in"
	KindVisitCheckOut = "visit.check_out"
	KindBadgeAssign   = "badge.assign"
	KindBadgeReturn   = "badge.return"
	KindAudit         = "audit"
	KindPrintStatus   = "print.status"
)

// Entities of the down feed. The set is open: a client ignores items of an
// entity it does not know (and still advances the cursor).
const (
	EntityHost            = "host"
	EntityPreregistration = "preregistration"
	EntityBadge           = "badge"
	EntityLocation        = "location"
	EntitySettings        = "settings"
	EntityDevice          = "device"
)

// Change operations of the down feed.
const (
	ChangeUpsert = "upsert"
	ChangeDelete = "delete"
)

// Op result statuses in an ack.
const (
	StatusApplied   = "applied"
	StatusDuplicate = "duplicate"
	StatusRejected  = "rejected"
)

// Bye reasons.
const (
	ByeShutdown = "shutdown" // the sender is stopping; reconnect with backoff
	ByeRevoked  = "revoked"  // the device was revoked: stop, forget credentials
	ByeUnpaired = "unpaired" // the device was unpaired and has drained its outbox
)

// Challenge is the server's first frame. Nonce is fresh for every connection.
type Challenge struct {
	Nonce        []byte `json:"nonce"`          // NonceSize random bytes, base64 on the wire
	ServerTimeMs int64  `json:"server_time_ms"` // server wall clock, Unix ms
	Versions     []int  `json:"versions"`       // protocol versions the server speaks
}

// Hello is the client's answer to a challenge.
type Hello struct {
	Versions     []int  `json:"versions"`       // protocol versions the client speaks
	DeviceID     string `json:"device_id"`      // from pairing
	Proof        []byte `json:"proof"`          // device signature over (device_id, nonce), base64
	ClientTimeMs int64  `json:"client_time_ms"` // t0: client wall clock when sent, Unix ms
	BootID       string `json:"boot_id"`        // random id of this edge process run
	MonoMs       int64  `json:"mono_ms"`        // ms since the edge process started, when sent
	LastAckedSeq int64  `json:"last_acked_seq"` // highest seq the client has seen acked
	Cursor       string `json:"cursor"`         // the client's durable down cursor, "" if none
	AppVersion   string `json:"app_version"`    // edge software version, for diagnostics
}

// Welcome ends a successful handshake.
type Welcome struct {
	Version        int    `json:"version"`          // the version chosen: highest in common
	ClientTimeMs   int64  `json:"client_time_ms"`   // t0 echoed from hello
	ReceivedMs     int64  `json:"received_ms"`      // t1: server clock when hello arrived
	ServerTimeMs   int64  `json:"server_time_ms"`   // t2: server clock when welcome was sent
	DeviceID       string `json:"device_id"`        // echoed
	TenantID       string `json:"tenant_id"`        // tenant the device belongs to
	LocationID     string `json:"location_id"`      // location the device serves
	LastAppliedSeq int64  `json:"last_applied_seq"` // highest seq the cloud has durably applied for this device
	HeartbeatMs    int64  `json:"heartbeat_ms"`     // ping interval both sides use; idle timeout is 3×
}

// Op is one outbox entry of the edge.
type Op struct {
	Seq      int64           `json:"seq"`                 // per-device, gapless, from 1
	OpID     string          `json:"op_id"`               // UUID, unique per device forever
	Kind     string          `json:"kind"`                // e.g. KindVisitCheckIn
	TimeMs   int64           `json:"time_ms"`             // device wall clock when the op was made, Unix ms
	BootID   string          `json:"boot_id"`             // boot (process run) in which the op was made
	MonoMs   int64           `json:"mono_ms"`             // ms since that boot's process start, when made
	OffsetMs *int64          `json:"offset_ms,omitempty"` // measured server−device offset for that boot, if known
	Payload  json.RawMessage `json:"payload,omitempty"`   // kind-specific JSON, at most MaxOpPayload bytes
}

// Push carries a batch of consecutive ops from the client.
type Push struct {
	Batch  int64 `json:"batch"`   // per-connection batch number, from 1, increasing
	MonoMs int64 `json:"mono_ms"` // sender's mono clock (current boot) when sent
	Ops    []Op  `json:"ops"`     // 1..MaxBatchOps ops with consecutive seqs
}

// OpResult reports what happened to one op. Acks list at least every
// duplicate and rejected op; applied ops may be omitted.
type OpResult struct {
	Seq    int64  `json:"seq"`
	OpID   string `json:"op_id,omitempty"`
	Status string `json:"status"`           // StatusApplied, StatusDuplicate or StatusRejected
	Code   string `json:"code,omitempty"`   // for rejected ops: machine-readable reason (e.g. "invalid", "unknown_kind")
	Reason string `json:"reason,omitempty"` // for rejected ops: human-readable reason
}

// Ack answers exactly one push, in order.
type Ack struct {
	Batch       int64      `json:"batch"`                  // the push's batch number
	UpToSeq     int64      `json:"up_to_seq"`              // every op ≤ this is durably done (applied, duplicate or rejected)
	ExpectedSeq int64      `json:"expected_seq,omitempty"` // non-zero: the batch had a gap; resend from this seq
	Results     []OpResult `json:"results,omitempty"`
}

// Change is one item of the down feed.
type Change struct {
	Entity string          `json:"entity"`         // e.g. EntityHost
	ID     string          `json:"id"`             // entity id
	Op     string          `json:"op"`             // ChangeUpsert or ChangeDelete
	Data   json.RawMessage `json:"data,omitempty"` // the whole entity for upserts
}

// Changes carries down-feed items. In a snapshot, Snapshot is true and the
// cursors are empty; the cursor arrives in SnapshotEnd.
type Changes struct {
	FromCursor string   `json:"from_cursor"` // cursor these items apply on top of
	Cursor     string   `json:"cursor"`      // cursor after applying them
	Items      []Change `json:"items"`
	More       bool     `json:"more"`     // more frames follow at once (catch-up in progress)
	Snapshot   bool     `json:"snapshot"` // part of a snapshot
}

// ChangesAck tells the server the client durably applied everything up to
// Cursor (in the same transaction as the data).
type ChangesAck struct {
	Cursor string `json:"cursor"`
}

// SnapshotBegin starts a snapshot of the listed entities: the client will
// replace them wholesale at SnapshotEnd.
type SnapshotBegin struct {
	Entities []string `json:"entities"`
}

// SnapshotEnd ends a snapshot; Cursor is the cursor to store with it.
type SnapshotEnd struct {
	Cursor string `json:"cursor"`
}

// Ping is a heartbeat; the receiver answers with a Pong at once.
type Ping struct {
	TimeMs int64 `json:"time_ms"` // t0: sender's wall clock, Unix ms
}

// Pong answers a Ping with the timestamps for offset estimation.
type Pong struct {
	PingTimeMs int64 `json:"ping_time_ms"` // t0 echoed
	ReceivedMs int64 `json:"received_ms"`  // t1: when the ping arrived
	TimeMs     int64 `json:"time_ms"`      // t2: when the pong was sent
}

// ErrorFrame carries an *Error. The sender closes the connection after it.
type ErrorFrame struct {
	Code         Code   `json:"code"`
	Name         string `json:"name"`
	Retryable    bool   `json:"retryable"`
	RetryAfterMs int64  `json:"retry_after_ms,omitempty"`
	Message      string `json:"message,omitempty"`
}

// Bye ends the connection politely. The sender closes after it.
type Bye struct {
	Reason  string `json:"reason"` // ByeShutdown, ByeRevoked, ByeUnpaired
	Message string `json:"message,omitempty"`
}

// FrameType implements Frame.
func (*Challenge) FrameType() FrameType { return TypeChallenge }

// FrameType implements Frame.
func (*Hello) FrameType() FrameType { return TypeHello }

// FrameType implements Frame.
func (*Welcome) FrameType() FrameType { return TypeWelcome }

// FrameType implements Frame.
func (*Push) FrameType() FrameType { return TypePush }

// FrameType implements Frame.
func (*Ack) FrameType() FrameType { return TypeAck }

// FrameType implements Frame.
func (*Changes) FrameType() FrameType { return TypeChanges }

// FrameType implements Frame.
func (*ChangesAck) FrameType() FrameType { return TypeChangesAck }

// FrameType implements Frame.
func (*SnapshotBegin) FrameType() FrameType { return TypeSnapshotBegin }

// FrameType implements Frame.
func (*SnapshotEnd) FrameType() FrameType { return TypeSnapshotEnd }

// FrameType implements Frame.
func (*Ping) FrameType() FrameType { return TypePing }

// FrameType implements Frame.
func (*Pong) FrameType() FrameType { return TypePong }

// FrameType implements Frame.
func (*ErrorFrame) FrameType() FrameType { return TypeError }

// FrameType implements Frame.
func (*Bye) FrameType() FrameType { return TypeBye }

// newFrame returns a zero frame of type t, or nil for an unknown type.
func newFrame(t FrameType) Frame {
	switch t {
	case TypeChallenge:
		return new(Challenge)
	case TypeHello:
		return new(Hello)
	case TypeWelcome:
		return new(Welcome)
	case TypePush:
		return new(Push)
	case TypeAck:
		return new(Ack)
	case TypeChanges:
		return new(Changes)
	case TypeChangesAck:
		return new(ChangesAck)
	case TypeSnapshotBegin:
		return new(SnapshotBegin)
	case TypeSnapshotEnd:
		return new(SnapshotEnd)
	case TypePing:
		return new(Ping)
	case TypePong:
		return new(Pong)
	case TypeError:
		return new(ErrorFrame)
	case TypeBye:
		return new(Bye)
	}
	return nil
}

// Encode returns the JSON encoding of f: one object whose first member is
// "type". The result is deterministic for a given f. Encode fails on a nil
// frame or one that Decode would refuse.
func Encode(f Frame) ([]byte, error) {
	if f == nil {
		return nil, fmt.Errorf("encode frame: nil frame")
	}
	if err := f.validate(); err != nil {
		return nil, fmt.Errorf("encode %s: %w", f.FrameType(), err)
	}
	body, err := json.Marshal(f)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", f.FrameType(), err)
	}
	// body is a JSON object "{...}"; splice the type member in front so the
	// frame structs need no type field and the envelope stays flat.
	t := f.FrameType()
	out := make([]byte, 0, len(body)+len(t)+12)
	out = append(out, `{"type":"`...)
	out = append(out, t...)
	out = append(out, '"')
	if len(body) > 2 {
		out = append(out, ',')
	}
	out = append(out, body[1:]...)
	return out, nil
}

// Decode parses one frame. It returns an *Error with CodeBadFrame for
// malformed JSON, a missing type or a frame failing validation, and
// CodeUnknownFrame for a type this version does not know. Unknown members
// are ignored. Decode never returns a partially filled frame with an error.
func Decode(data []byte) (Frame, error) {
	var probe struct {
		Type *string `json:"type"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, NewError(CodeBadFrame, "malformed frame: %v", err)
	}
	if probe.Type == nil || *probe.Type == "" {
		return nil, NewError(CodeBadFrame, "frame has no type")
	}
	f := newFrame(FrameType(*probe.Type))
	if f == nil {
		return nil, NewError(CodeUnknownFrame, "unknown frame type %.64q", *probe.Type)
	}
	if err := json.Unmarshal(data, f); err != nil {
		return nil, NewError(CodeBadFrame, "malformed %s frame: %v", f.FrameType(), err)
	}
	if err := f.validate(); err != nil {
		return nil, NewError(CodeBadFrame, "invalid %s frame: %v", f.FrameType(), err)
	}
	return f, nil
}

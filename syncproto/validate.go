package syncproto

import (
	"errors"
	"fmt"
)

// The validate methods hold the structural rules of SPEC.md §4: what Decode
// refuses as bad_frame and Encode refuses to send. Semantic checks (is the
// device known, is the seq expected) belong to the application.

func validVersions(vs []int) error {
	if len(vs) == 0 {
		return errors.New("no versions")
	}
	for _, v := range vs {
		if v <= 0 {
			return fmt.Errorf("bad version %d", v)
		}
	}
	return nil
}

func (f *Challenge) validate() error {
	if len(f.Nonce) != NonceSize {
		return fmt.Errorf("nonce is %d bytes, want %d", len(f.Nonce), NonceSize)
	}
	return validVersions(f.Versions)
}

func (f *Hello) validate() error {
	switch {
	case f.DeviceID == "":
		return errors.New("no device_id")
	case len(f.Proof) == 0:
		return errors.New("no proof")
	case f.BootID == "":
		return errors.New("no boot_id")
	case f.MonoMs < 0:
		return errors.New("negative mono_ms")
	case f.LastAckedSeq < 0:
		return errors.New("negative last_acked_seq")
	}
	return validVersions(f.Versions)
}

func (f *Welcome) validate() error {
	switch {
	case f.Version <= 0:
		return errors.New("no version")
	case f.LastAppliedSeq < 0:
		return errors.New("negative last_applied_seq")
	case f.HeartbeatMs < 0:
		return errors.New("negative heartbeat_ms")
	}
	return nil
}

func (f *Push) validate() error {
	switch {
	case f.Batch < 1:
		return errors.New("batch must be ≥ 1")
	case f.MonoMs < 0:
		return errors.New("negative mono_ms")
	case len(f.Ops) == 0:
		return errors.New("no ops")
	case len(f.Ops) > MaxBatchOps:
		return fmt.Errorf("%d ops, at most %d", len(f.Ops), MaxBatchOps)
	}
	for i := range f.Ops {
		op := &f.Ops[i]
		switch {
		case op.Seq < 1:
			return fmt.Errorf("op %d: seq must be ≥ 1", i)
		case i > 0 && op.Seq != f.Ops[i-1].Seq+1:
			return fmt.Errorf("op %d: seq %d does not follow %d", i, op.Seq, f.Ops[i-1].Seq)
		case op.OpID == "":
			return fmt.Errorf("op %d: no op_id", i)
		case op.Kind == "":
			return fmt.Errorf("op %d: no kind", i)
		case op.BootID == "":
			return fmt.Errorf("op %d: no boot_id", i)
		case op.MonoMs < 0:
			return fmt.Errorf("op %d: negative mono_ms", i)
		case len(op.Payload) > MaxOpPayload:
			return fmt.Errorf("op %d: payload %d bytes, at most %d", i, len(op.Payload), MaxOpPayload)
		}
	}
	return nil
}

func (f *Ack) validate() error {
	switch {
	case f.Batch < 1:
		return errors.New("batch must be ≥ 1")
	case f.UpToSeq < 0:
		return errors.New("negative up_to_seq")
	case f.ExpectedSeq < 0:
		return errors.New("negative expected_seq")
	case f.ExpectedSeq != 0 && f.ExpectedSeq != f.UpToSeq+1:
		return fmt.Errorf("expected_seq %d is not up_to_seq+1", f.ExpectedSeq)
	}
	for i, r := range f.Results {
		if r.Seq < 1 {
			return fmt.Errorf("result %d: seq must be ≥ 1", i)
		}
		switch r.Status {
		case StatusApplied, StatusDuplicate, StatusRejected:
		default:
			return fmt.Errorf("result %d: bad status %.32q", i, r.Status)
		}
	}
	return nil
}

func (f *Changes) validate() error {
	if len(f.Items) > MaxChangeItems {
		return fmt.Errorf("%d items, at most %d", len(f.Items), MaxChangeItems)
	}
	if !f.Snapshot && f.Cursor == "" {
		return errors.New("no cursor")
	}
	for i, it := range f.Items {
		switch {
		case it.Entity == "":
			return fmt.Errorf("item %d: no entity", i)
		case it.ID == "":
			return fmt.Errorf("item %d: no id", i)
		case it.Op != ChangeUpsert && it.Op != ChangeDelete:
			return fmt.Errorf("item %d: bad op %.32q", i, it.Op)
		case f.Snapshot && it.Op != ChangeUpsert:
			return fmt.Errorf("item %d: a snapshot holds upserts only", i)
		}
	}
	return nil
}

func (f *ChangesAck) validate() error {
	if f.Cursor == "" {
		return errors.New("no cursor")
	}
	return nil
}

func (f *SnapshotBegin) validate() error {
	if len(f.Entities) == 0 {
		return errors.New("no entities")
	}
	for i, e := range f.Entities {
		if e == "" {
			return fmt.Errorf("entity %d is empty", i)
		}
	}
	return nil
}

func (f *SnapshotEnd) validate() error {
	if f.Cursor == "" {
		return errors.New("no cursor")
	}
	return nil
}

func (f *Ping) validate() error { return nil }

func (f *Pong) validate() error { return nil }

func (f *ErrorFrame) validate() error {
	if f.Code <= 0 {
		return errors.New("code must be ≥ 1")
	}
	return nil
}

func (f *Bye) validate() error {
	if f.Reason == "" {
		return errors.New("no reason")
	}
	return nil
}

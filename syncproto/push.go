package syncproto

// PushPlan is what a server does with one push, given the device's last
// applied seq (SPEC.md §8). It is computed by PlanPush.
type PushPlan struct {
	// Apply holds the ops to apply, in order, in one transaction that also
	// records the new last applied seq (and any rejections).
	Apply []Op
	// Duplicates holds a result for every op at or below the last applied
	// seq: already done, to be reported, never applied again.
	Duplicates []OpResult
	// ExpectedSeq is non-zero when the batch starts after a gap: nothing is
	// applied and the ack tells the client to resend from this seq.
	ExpectedSeq int64
}

// PlanPush splits a validated push into duplicates and ops to apply, or
// detects a gap. It is pure. lastApplied is the device's last applied seq
// as recorded in the same transaction that will apply the ops.
func PlanPush(lastApplied int64, p *Push) PushPlan {
	var plan PushPlan
	i := 0
	for ; i < len(p.Ops) && p.Ops[i].Seq <= lastApplied; i++ {
		op := &p.Ops[i]
		plan.Duplicates = append(plan.Duplicates, OpResult{Seq: op.Seq, OpID: op.OpID, Status: StatusDuplicate})
	}
	if i < len(p.Ops) {
		if p.Ops[i].Seq != lastApplied+1 {
			plan.ExpectedSeq = lastApplied + 1
			return plan
		}
		plan.Apply = p.Ops[i:]
	}
	return plan
}

// Ack builds the ack for this plan once the transaction committed with
// lastApplied as the device's (new) last applied seq. rejected lists the
// results of ops rejected as poison while applying; they count as done.
func (pl PushPlan) Ack(batch, lastApplied int64, rejected []OpResult) *Ack {
	a := &Ack{Batch: batch, UpToSeq: lastApplied}
	if pl.ExpectedSeq != 0 {
		a.ExpectedSeq = lastApplied + 1
	}
	if n := len(pl.Duplicates) + len(rejected); n > 0 {
		a.Results = make([]OpResult, 0, n)
		a.Results = append(a.Results, pl.Duplicates...)
		a.Results = append(a.Results, rejected...)
	}
	return a
}

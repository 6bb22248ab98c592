package syncproto

import (
	"reflect"
	"testing"
)

func ops(from, to int64) []Op {
	var out []Op
	for s := from; s <= to; s++ {
		out = append(out, Op{Seq: s, OpID: "op" + string(rune('a'+s%26)), Kind: KindAudit, BootID: "b"})
	}
	return out
}

func TestPlanPush(t *testing.T) {
	tests := []struct {
		name     string
		last     int64
		from, to int64
		apply    []int64
		dups     []int64
		expected int64
	}{
		{"fresh from 1", 0, 1, 3, []int64{1, 2, 3}, nil, 0},
		{"continues", 10, 11, 12, []int64{11, 12}, nil, 0},
		{"overlap", 10, 9, 12, []int64{11, 12}, []int64{9, 10}, 0},
		{"all duplicates", 10, 5, 7, nil, []int64{5, 6, 7}, 0},
		{"gap", 10, 13, 14, nil, nil, 11},
		{"gap from the start", 0, 2, 3, nil, nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &Push{Batch: 1, Ops: ops(tt.from, tt.to)}
			if err := p.validate(); err != nil {
				t.Fatal(err)
			}
			plan := PlanPush(tt.last, p)
			var apply, dups []int64
			for _, op := range plan.Apply {
				apply = append(apply, op.Seq)
			}
			for _, r := range plan.Duplicates {
				if r.Status != StatusDuplicate || r.OpID == "" {
					t.Errorf("bad duplicate result %+v", r)
				}
				dups = append(dups, r.Seq)
			}
			if !reflect.DeepEqual(apply, tt.apply) || !reflect.DeepEqual(dups, tt.dups) || plan.ExpectedSeq != tt.expected {
				t.Errorf("got apply %v dups %v expected %d; want %v %v %d", apply, dups, plan.ExpectedSeq, tt.apply, tt.dups, tt.expected)
			}
			newLast := tt.last
			if len(plan.Apply) > 0 {
				newLast = plan.Apply[len(plan.Apply)-1].Seq
			}
			a := plan.Ack(1, newLast, nil)
			if err := a.validate(); err != nil {
				t.Errorf("ack invalid: %v", err)
			}
			if tt.expected != 0 && (a.ExpectedSeq != tt.expected || a.UpToSeq != tt.last) {
				t.Errorf("gap ack %+v", a)
			}
		})
	}
}

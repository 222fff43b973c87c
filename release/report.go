package release

import (
	"fmt"
	"time"

	"github.com/privrec/privrec/dp"
	"github.com/privrec/privrec/recommend"
)

// report describes the release for people and machines: what was
// collected, the guarantee, and every part with the σ and cost its noise
// actually had.
func (b *builder) report(in info) recommend.Report {
	o := b.o
	r := recommend.Report{
		ReleaseID: in.releaseID,
		CreatedAt: in.at.UTC(),
		Window:    recommend.Window{Start: in.window.Start.UTC(), End: in.window.End.UTC()},
		BuiltWith: in.builtWith,
		KeyPeriod: in.keyPeriod,
		Collected: collectedFields(in.window),
		Privacy: recommend.Privacy{
			DifferentiallyPrivate: b.plan != nil,
			Unit:                  "one user (one pseudonym) in one release window",
			Noise:                 "none",
			K:                     o.K,
		},
	}
	if r.BuiltWith == "" {
		r.BuiltWith = "privrec (embedded)"
	}
	if o.Keep > o.K {
		r.Privacy.Keep = o.Keep
	}
	for _, k := range in.kinds {
		r.EventKinds = append(r.EventKinds, k.String())
	}
	if b.plan != nil {
		r.Privacy.Noise = o.Noise.String()
		r.Privacy.Epsilon = b.plan.Epsilon
		r.Privacy.Delta = o.Delta
		r.Privacy.Rho = b.plan.Cost.Rho
		r.Privacy.PureEpsilon = b.plan.Cost.PureEpsilon
		r.Privacy.SelectionDelta = b.plan.Cost.Delta
	}
	r.Privacy.Requested = o.Mechanisms.String()
	var ran Mechanisms
	for _, u := range b.used {
		p := u.part
		pr := recommend.PartReport{
			Name: p.spec.Name, Mechanism: u.mechanism, Domain: p.domain, Values: b.values[p.spec.Name],
			L0: p.spec.L0, LInf: p.spec.LInf, Share: p.spec.Share,
		}
		if c := u.counter; c != nil {
			pr.Sigma = c.Sigma()
			pr.Rho = c.Cost().Rho
			pr.PureEpsilon = c.Cost().PureEpsilon
			pr.Threshold = c.Threshold()
			pr.ThresholdDelta = c.Cost().Delta
		}
		if p.spec.Name == partPairs && o.Pairs == HeadPairs {
			pr.EvidenceThreshold = b.threshold
		}
		r.Privacy.Parts = append(r.Privacy.Parts, pr)
		for _, n := range mechanismNames {
			if n.name == u.mechanism {
				ran |= n.m
			}
		}
	}
	r.Privacy.Mechanisms = ran.String()
	r.Privacy.Decisions = append([]string(nil), b.notes...)
	return r
}

func collectedFields(w recommend.Window) []recommend.DataUse {
	window := fmt.Sprintf("until the window closes at %s, then wiped", w.End.UTC().Format(time.RFC3339))
	return []recommend.DataUse{
		{Field: "user ID", Purpose: "tell one person's events apart so that each person's influence can be bounded", Retention: "never stored: replaced by a keyed pseudonym on arrival"},
		{Field: "pseudonym", Purpose: "bound each person to at most K items per window", Retention: window},
		{Field: "item", Purpose: "count how many people had each item and each pair of items", Retention: window + "; only noisy aggregate counts are kept"},
		{Field: "event kind", Purpose: "check that the event is of a collected kind", Retention: "not stored"},
		{Field: "event time", Purpose: "check that the event falls in the window", Retention: "not stored"},
	}
}

// ledgerReport is the report of ledger summary s, taken right after the
// charge with sequence number seq (0: the ledger's newest).
func ledgerReport(s dp.Summary, seq uint64) *recommend.LedgerReport {
	if seq == 0 {
		seq = uint64(s.AllCharges)
	}
	return &recommend.LedgerReport{
		ID:           s.LedgerID,
		Seq:          seq,
		Releases:     len(s.Charges),
		EpsilonSpent: s.Epsilon,
		DeltaSpent:   s.Delta,
		EpsilonCap:   s.Budget.Epsilon,
		DeltaCap:     s.Budget.Delta,
		Horizon:      s.Budget.Horizon,
	}
}

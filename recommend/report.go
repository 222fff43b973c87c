package recommend

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/privrec/privrec/internal/human"
)

// ReportFormat identifies the version of the Report schema.
const ReportFormat = "privrec-report/v2"

// Report is a model's transparency report: what was collected, why, for how
// long, and what the release spent, part by part. The release package fills
// it from the calibrated mechanisms: every σ and ε in it is the one the
// noise actually used, not a requested parameter.
type Report struct {
	Format    string    `json:"format"`
	ReleaseID string    `json:"release_id"`
	CreatedAt time.Time `json:"created_at"`
	Window    Window    `json:"window"`
	// BuiltWith names the engine that built the model, e.g. "privrec
	// (embedded)".
	BuiltWith string `json:"built_with"`

	Collected []DataUse `json:"collected"`
	// KeyPeriod is how long one pseudonym lasts before the key period
	// changes; zero when events were pseudonymized outside privrec.
	KeyPeriod time.Duration `json:"-"`
	// EventKinds lists the kinds of event that were counted.
	EventKinds []string `json:"event_kinds"`

	Privacy  Privacy       `json:"privacy"`
	Ledger   *LedgerReport `json:"ledger,omitempty"`
	Contents Contents      `json:"contents"`
}

// DataUse describes one field collected.
type DataUse struct {
	Field     string `json:"field"`
	Purpose   string `json:"purpose"`
	Retention string `json:"retention"`
}

// Privacy is what one release spent, and how.
type Privacy struct {
	// DifferentiallyPrivate is false only for exact reference models
	// (release.Exact), which must never serve real users.
	DifferentiallyPrivate bool   `json:"differentially_private"`
	Unit                  string `json:"unit"`
	// Noise is "gaussian", "laplace" or "none".
	Noise string `json:"noise"`
	// Epsilon and Delta are the release's guarantee: the composition of
	// every part, at Delta.
	Epsilon        float64 `json:"epsilon"`
	Delta          float64 `json:"delta"`
	Rho            float64 `json:"rho"`
	PureEpsilon    float64 `json:"pure_epsilon"`
	SelectionDelta float64 `json:"selection_delta"`
	// K is the contribution bound: each user counts for at most K items
	// per window.
	K int `json:"k"`
	// Keep, when set, is how many items per user were kept and weighted
	// down to the norm of K items.
	Keep int `json:"keep,omitempty"`
	// Mechanisms names the release mechanisms that ran, e.g.
	// "popularity+categories"; Requested is what the options asked for
	// ("auto" when the release chose).
	Mechanisms string `json:"mechanisms"`
	Requested  string `json:"requested"`
	// Decisions say, in English, what the release chose from the data and
	// why (for example, whether pair counts were predicted to carry
	// signal); post-processing of released values only.
	Decisions []string `json:"decisions,omitempty"`
	// Parts are the release's noisy statistics, one row each.
	Parts []PartReport `json:"parts"`
}

// PartReport is one noisy statistic of a release.
type PartReport struct {
	// Name names the statistic, e.g. "item counts".
	Name string `json:"name"`
	// Mechanism is the release mechanism it belongs to, e.g. "pairs".
	Mechanism string `json:"mechanism"`
	// Domain says which values were released, e.g. "every pair of the 300
	// head items, zeros included".
	Domain string `json:"domain"`
	// Values is how many noisy values the model was built from.
	Values int `json:"values"`
	// L0 and LInf bound one user's influence: at most L0 values, each by at
	// most LInf.
	L0   int64   `json:"l0"`
	LInf float64 `json:"linf"`
	// Share is the part's share of the release's ρ (Gaussian) or ε
	// (Laplace).
	Share float64 `json:"share"`
	// Sigma is the standard deviation of the noise on each value.
	Sigma float64 `json:"sigma"`
	// Rho and PureEpsilon are what the part spent.
	Rho         float64 `json:"rho,omitempty"`
	PureEpsilon float64 `json:"pure_epsilon,omitempty"`
	// Threshold, for a release over a private domain, is the noisy value a
	// value had to reach, and ThresholdDelta the δ that selection spent.
	Threshold      float64 `json:"threshold,omitempty"`
	ThresholdDelta float64 `json:"threshold_delta,omitempty"`
	// EvidenceThreshold, for pair counts, is how far a released count had
	// to exceed what popularity predicts to become evidence (the
	// garrote's threshold, a multiple of Sigma).
	EvidenceThreshold float64 `json:"evidence_threshold,omitempty"`
}

// LedgerReport is the budget ledger's state right after the release:
// EpsilonSpent is the composed ε of the releases within the horizon,
// measured at δ = DeltaCap; DeltaSpent is the part of DeltaCap consumed by
// thresholding. ID names the ledger and Seq is the sequence number of this
// release's charge in it: a ledger that was replaced or restored from an
// older copy shows up as another ID, or as a ledger whose newest charge is
// older than a model's.
type LedgerReport struct {
	ID           string        `json:"ledger_id,omitempty"`
	Seq          uint64        `json:"charge_seq,omitempty"`
	Releases     int           `json:"releases"`
	EpsilonSpent float64       `json:"epsilon_spent"`
	DeltaSpent   float64       `json:"delta_spent"`
	EpsilonCap   float64       `json:"epsilon_cap"`
	DeltaCap     float64       `json:"delta_cap"`
	Horizon      time.Duration `json:"-"`
}

// Contents counts what the model holds.
type Contents struct {
	Items     int `json:"items"`
	Neighbors int `json:"neighbors"`
	// CategoryConcentration is the category evidence's α (0 without
	// category evidence): the smaller, the more a context's categories
	// raise their items. See NewCategoryEvidence.
	CategoryConcentration float64 `json:"category_concentration,omitempty"`
	// EvidenceShare is the share of one-item queries, over the model's
	// most popular items weighted by popularity, that evidence beyond
	// popularity answers: the query's top result is ranked by context or
	// category evidence. 0 means the model serves popularity.
	EvidenceShare float64 `json:"evidence_share"`
}

// MarshalJSON writes the report with its durations as text ("168h0m0s").
func (r Report) MarshalJSON() ([]byte, error) {
	type plain Report
	return json.Marshal(struct {
		plain
		KeyPeriod string `json:"key_period"`
	}{plain(r), r.KeyPeriod.String()})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (r *Report) UnmarshalJSON(b []byte) error {
	type plain Report
	var v struct {
		plain
		KeyPeriod string `json:"key_period"`
	}
	if err := strictJSON(b, &v); err != nil {
		return err
	}
	d, err := time.ParseDuration(v.KeyPeriod)
	if err != nil {
		return fmt.Errorf("key_period: %v", err)
	}
	*r = Report(v.plain)
	r.KeyPeriod = d
	return nil
}

// MarshalJSON writes the ledger report with its horizon as text.
func (l LedgerReport) MarshalJSON() ([]byte, error) {
	type plain LedgerReport
	return json.Marshal(struct {
		plain
		Horizon string `json:"horizon"`
	}{plain(l), l.Horizon.String()})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (l *LedgerReport) UnmarshalJSON(b []byte) error {
	type plain LedgerReport
	var v struct {
		plain
		Horizon string `json:"horizon"`
	}
	if err := strictJSON(b, &v); err != nil {
		return err
	}
	d, err := time.ParseDuration(v.Horizon)
	if err != nil {
		return fmt.Errorf("horizon: %v", err)
	}
	*l = LedgerReport(v.plain)
	l.Horizon = d
	return nil
}

func (r Report) clone() Report {
	r.Collected = append([]DataUse(nil), r.Collected...)
	r.EventKinds = append([]string(nil), r.EventKinds...)
	r.Privacy.Parts = append([]PartReport(nil), r.Privacy.Parts...)
	r.Privacy.Decisions = append([]string(nil), r.Privacy.Decisions...)
	if r.Ledger != nil {
		l := *r.Ledger
		r.Ledger = &l
	}
	return r
}

// Markdown renders the report for people.
func (r Report) Markdown() string {
	var b strings.Builder
	p := r.Privacy
	fmt.Fprintf(&b, "# Privacy report for release %s\n\n", r.ReleaseID)
	fmt.Fprintf(&b, "Built %s by %s from the events of %s to %s.\n\n",
		r.CreatedAt.Format(time.RFC3339), r.BuiltWith, r.Window.Start.Format(time.RFC3339), r.Window.End.Format(time.RFC3339))
	b.WriteString("## What was collected, why, and for how long\n\n| Field | Why | Kept |\n|---|---|---|\n")
	for _, d := range r.Collected {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", d.Field, d.Purpose, d.Retention)
	}
	if r.KeyPeriod > 0 {
		fmt.Fprintf(&b, "\nPseudonyms are HMAC-SHA-256 under a key that changes every %s; without the secret key nobody can recompute or link them.\n", human.Duration(r.KeyPeriod))
	}
	fmt.Fprintf(&b, "\nEvent kinds counted: %s.\n", strings.Join(r.EventKinds, ", "))
	b.WriteString("\n## Differential privacy\n\n")
	if !p.DifferentiallyPrivate {
		b.WriteString("**This model is NOT differentially private.** It was built from exact counts as a reference for benchmarks and must not serve real users.\n")
	} else {
		fmt.Fprintf(&b, "This release is (ε = %s, δ = %s)-differentially private for %s.\n\n", fmtNum(p.Epsilon), fmtNum(p.Delta), p.Unit)
		fmt.Fprintf(&b, "- Noise: %s", p.Noise)
		if p.Rho > 0 {
			fmt.Fprintf(&b, " (ρ = %s zCDP)", fmtNum(p.Rho))
		}
		b.WriteString(".\n")
	}
	fmt.Fprintf(&b, "- Each person counts for at most K = %d items per window", p.K)
	if p.Keep > p.K {
		fmt.Fprintf(&b, " (up to %d of their items are kept, weighted so that together they weigh no more than %d)", p.Keep, p.K)
	}
	b.WriteString(".\n")
	if p.Mechanisms != "" {
		fmt.Fprintf(&b, "- Mechanisms: %s", p.Mechanisms)
		if p.Requested != "" && p.Requested != p.Mechanisms {
			fmt.Fprintf(&b, " (asked for: %s)", p.Requested)
		}
		b.WriteString(".\n")
	}
	for _, d := range p.Decisions {
		fmt.Fprintf(&b, "- %s\n", d)
	}
	if len(p.Parts) > 0 {
		b.WriteString("\n| Statistic | Mechanism | Released | Values | Noise σ | Share of budget |\n|---|---|---|---|---|---|\n")
		for _, pt := range p.Parts {
			fmt.Fprintf(&b, "| %s | %s | %s | %d | %.3g | %.0f%% |\n", pt.Name, pt.Mechanism, pt.Domain, pt.Values, pt.Sigma, 100*pt.Share)
		}
	}
	if l := r.Ledger; l != nil {
		fmt.Fprintf(&b, "\n## Budget\n\n%d release(s) count against the cap; together they spent ε = %s of ε = %s (at δ = %s, ", l.Releases, fmtNum(l.EpsilonSpent), fmtNum(l.EpsilonCap), fmtNum(l.DeltaCap))
		if l.Horizon > 0 {
			fmt.Fprintf(&b, "over a rolling %s).\n", human.Duration(l.Horizon))
		} else {
			b.WriteString("over the ledger's lifetime).\n")
		}
		if l.ID != "" {
			fmt.Fprintf(&b, "This release is charge %d of ledger %s.\n", l.Seq, l.ID)
		}
	}
	fmt.Fprintf(&b, "\n## Released\n\n%d items with noisy popularity, %d neighbour entries", r.Contents.Items, r.Contents.Neighbors)
	if r.Contents.CategoryConcentration > 0 {
		fmt.Fprintf(&b, ", category evidence (concentration α = %.3g)", r.Contents.CategoryConcentration)
	}
	fmt.Fprintf(&b, ". Evidence beyond popularity answers %.0f%% of one-item queries (weighted by popularity)", 100*r.Contents.EvidenceShare)
	if r.Contents.EvidenceShare == 0 {
		b.WriteString(": **this model serves popularity**")
	}
	b.WriteString(". No user ID, pseudonym or per-person history is in the model.\n")
	return b.String()
}

func fmtNum(v float64) string {
	if math.IsInf(v, 1) {
		return "∞"
	}
	return fmt.Sprintf("%.4g", v)
}

package recommend

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/privrec/privrec/dp"
)

// ReportFormat identifies the version of the Report schema.
const ReportFormat = "privrec-report/v1"

// Report is a model's transparency report: what was collected, why, for how
// long, and what the release spent. Every number in Privacy comes from the
// calibrated mechanisms (dp.Plan), not from the requested parameters.
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
	KeyPeriod Duration `json:"key_period"`
	// EventKinds lists the kinds of event that were counted.
	EventKinds []string `json:"event_kinds"`

	Privacy  PrivacySpend  `json:"privacy"`
	Ledger   *LedgerReport `json:"ledger,omitempty"`
	Released Released      `json:"released"`
}

// DataUse describes one field collected.
type DataUse struct {
	Field     string `json:"field"`
	Purpose   string `json:"purpose"`
	Retention string `json:"retention"`
}

// PrivacySpend is what one release spent and how.
type PrivacySpend struct {
	// DifferentiallyPrivate is false only for reference models built by
	// Collector.ReleaseNonPrivate, which must never serve real users.
	DifferentiallyPrivate bool    `json:"differentially_private"`
	Unit                  string  `json:"unit"`
	Mechanism             string  `json:"mechanism"`
	Epsilon               float64 `json:"epsilon"`
	Delta                 float64 `json:"delta"`
	Rho                   float64 `json:"rho"`
	PureEpsilon           float64 `json:"pure_epsilon"`
	SelectionDelta        float64 `json:"selection_delta"`
	// MaxItemsPerUser is K: each user counts for at most K items per
	// window.
	MaxItemsPerUser int `json:"max_items_per_user"`
	// KeepItems, when set, is how many items per user were kept and
	// weighted down to the norm of K items.
	KeepItems      int     `json:"keep_items,omitempty"`
	ItemShare      float64 `json:"item_share"`
	PairSelection  string  `json:"pair_selection"`
	HeadSize       int     `json:"head_size,omitempty"`
	ItemNoiseSigma float64 `json:"item_noise_sigma"`
	PairNoiseSigma float64 `json:"pair_noise_sigma,omitempty"`
	PairThreshold  float64 `json:"pair_threshold,omitempty"`
}

// LedgerReport is the budget ledger's state right after the release:
// EpsilonSpent is the composed ε of the releases within the horizon,
// measured at δ = DeltaCap; DeltaSpent is the part of DeltaCap consumed by
// thresholding.
type LedgerReport struct {
	Releases     int      `json:"releases"`
	EpsilonSpent float64  `json:"epsilon_spent"`
	DeltaSpent   float64  `json:"delta_spent"`
	EpsilonCap   float64  `json:"epsilon_cap"`
	DeltaCap     float64  `json:"delta_cap"`
	Horizon      Duration `json:"horizon"`
}

// Released counts what the model contains.
type Released struct {
	Items     int `json:"items"`
	Pairs     int `json:"pairs"`
	Neighbors int `json:"neighbors"`
}

// Duration is a time.Duration that marshals as a string like "168h0m0s".
type Duration time.Duration

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

func newReport(spec releaseSpec, info buildInfo, items, pairs, neighbors int) Report {
	p := spec.params
	r := Report{
		Format:    ReportFormat,
		ReleaseID: info.releaseID,
		CreatedAt: info.at.UTC(),
		Window:    Window{info.window.Start.UTC(), info.window.End.UTC()},
		BuiltWith: "privrec (embedded)",
		KeyPeriod: Duration(info.keyPeriod),
		Collected: collectedFields(info.window),
		Privacy: PrivacySpend{
			DifferentiallyPrivate: spec.plan != nil,
			Unit:                  "one user (one pseudonym) in one release window",
			Mechanism:             "none",
			MaxItemsPerUser:       p.MaxItemsPerUser,
			KeepItems:             keepItems(p),
			ItemShare:             p.ItemShare,
			PairSelection:         p.Pairs.String(),
		},
		Released: Released{Items: items, Pairs: pairs, Neighbors: neighbors},
	}
	for k := KindView; k <= KindPurchase; k++ {
		if info.kinds&(1<<k) != 0 {
			r.EventKinds = append(r.EventKinds, k.String())
		}
	}
	if p.Pairs == dp.HeadPairs {
		r.Privacy.HeadSize = p.HeadSize
	}
	if plan := spec.plan; plan != nil {
		r.Privacy.Mechanism = p.Mechanism.String()
		r.Privacy.Epsilon = plan.Epsilon
		r.Privacy.Delta = p.Delta
		r.Privacy.Rho = plan.Cost.Rho
		r.Privacy.PureEpsilon = plan.Cost.PureEpsilon
		r.Privacy.SelectionDelta = plan.Cost.Delta
		r.Privacy.ItemNoiseSigma = plan.Items.Sigma()
		if plan.Pairs != nil {
			r.Privacy.PairNoiseSigma = plan.Pairs.Sigma()
			r.Privacy.PairThreshold = plan.Pairs.Threshold()
		}
	}
	return r
}

func keepItems(p dp.Params) int {
	if p.KeepItems == p.MaxItemsPerUser {
		return 0
	}
	return p.KeepItems
}

func collectedFields(w Window) []DataUse {
	window := fmt.Sprintf("until the window closes at %s, then wiped", w.End.UTC().Format(time.RFC3339))
	return []DataUse{
		{"user ID", "tell one person's events apart so that each person's influence can be bounded", "never stored: replaced by a keyed pseudonym on arrival"},
		{"pseudonym", "bound each person to at most K items per window", window},
		{"item", "count how many people had each item and each pair of items", window + "; only noisy aggregate counts are kept"},
		{"event kind", "check that the event is of a collected kind", "not stored"},
		{"event time", "check that the event falls in the window", "not stored"},
	}
}

func ledgerReport(s dp.Summary) *LedgerReport {
	return &LedgerReport{
		Releases:     len(s.Charges),
		EpsilonSpent: s.Epsilon,
		DeltaSpent:   s.Delta,
		EpsilonCap:   s.Budget.Epsilon,
		DeltaCap:     s.Budget.Delta,
		Horizon:      Duration(s.Budget.Horizon),
	}
}

func (r Report) clone() Report {
	r.Collected = append([]DataUse(nil), r.Collected...)
	r.EventKinds = append([]string(nil), r.EventKinds...)
	if r.Ledger != nil {
		l := *r.Ledger
		r.Ledger = &l
	}
	return r
}

// JSON returns the report as indented JSON.
func (r Report) JSON() ([]byte, error) { return json.MarshalIndent(r, "", "  ") }

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
		fmt.Fprintf(&b, "\nPseudonyms are HMAC-SHA-256 under a key that changes every %s; without the secret key nobody can recompute or link them.\n", time.Duration(r.KeyPeriod))
	}
	fmt.Fprintf(&b, "\nEvent kinds counted: %s.\n", strings.Join(r.EventKinds, ", "))
	b.WriteString("\n## Differential privacy\n\n")
	if !p.DifferentiallyPrivate {
		b.WriteString("**This model is NOT differentially private.** It was built from exact counts as a reference for benchmarks and must not serve real users.\n")
		fmt.Fprintf(&b, "\n## Released\n\n%d items, %d item pairs, %d neighbour entries.\n", r.Released.Items, r.Released.Pairs, r.Released.Neighbors)
		return b.String()
	}
	fmt.Fprintf(&b, "This release is (ε = %s, δ = %s)-differentially private for %s.\n\n", fmtNum(p.Epsilon), fmtNum(p.Delta), p.Unit)
	fmt.Fprintf(&b, "- Noise: %s", p.Mechanism)
	if p.Rho > 0 {
		fmt.Fprintf(&b, " (ρ = %s zCDP)", fmtNum(p.Rho))
	}
	fmt.Fprintf(&b, "; item counts σ = %.3g", p.ItemNoiseSigma)
	if p.PairNoiseSigma > 0 {
		fmt.Fprintf(&b, ", pair counts σ = %.3g", p.PairNoiseSigma)
	}
	fmt.Fprintf(&b, ".\n- Each person counts for at most K = %d items per window", p.MaxItemsPerUser)
	if p.KeepItems > p.MaxItemsPerUser {
		fmt.Fprintf(&b, " (up to %d of their items are kept, weighted so that together they weigh no more than %d)", p.KeepItems, p.MaxItemsPerUser)
	}
	fmt.Fprintf(&b, "; item counts get %.0f%% of the budget.\n", 100*p.ItemShare)
	switch p.PairSelection {
	case "head":
		fmt.Fprintf(&b, "- Pairs: every pair among the %d most popular items (chosen from the noisy counts) got noise, zeros included.\n", p.HeadSize)
	case "threshold":
		fmt.Fprintf(&b, "- Pairs: released only when their noisy count reached %.4g (δ = %s spent on this selection).\n", p.PairThreshold, fmtNum(p.SelectionDelta))
	}
	if l := r.Ledger; l != nil {
		fmt.Fprintf(&b, "\n## Budget\n\n%d release(s) count against the cap; together they spent ε = %s of ε = %s (at δ = %s, ", l.Releases, fmtNum(l.EpsilonSpent), fmtNum(l.EpsilonCap), fmtNum(l.DeltaCap))
		if l.Horizon > 0 {
			fmt.Fprintf(&b, "over a rolling %s).\n", time.Duration(l.Horizon))
		} else {
			b.WriteString("over the ledger's lifetime).\n")
		}
	}
	fmt.Fprintf(&b, "\n## Released\n\n%d items with noisy popularity, %d item pairs, %d neighbour entries. No user ID, pseudonym or per-person history is in the model.\n",
		r.Released.Items, r.Released.Pairs, r.Released.Neighbors)
	return b.String()
}

func fmtNum(v float64) string {
	if math.IsInf(v, 1) {
		return "∞"
	}
	return fmt.Sprintf("%.4g", v)
}

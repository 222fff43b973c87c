package dp_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/privrec/privrec/dp"
)

func ExampleNewPlan() {
	// Each user changes at most 16 item counts and 120 pair counts, by at
	// most 1 each; half of the budget goes to each.
	plan, err := dp.NewPlan(dp.PlanOptions{Epsilon: 1, Delta: 1e-6, Parts: []dp.PartSpec{
		{Name: "item counts", L0: 16, LInf: 1, Share: 0.5},
		{Name: "pair counts", L0: 16 * 15 / 2, LInf: 1, Share: 0.5},
	}})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range plan.Parts {
		fmt.Printf("%s: σ = %.1f, ρ = %.4f\n", p.Name, p.Sigma(), p.Cost().Rho)
	}
	fmt.Printf("ε spent = %.3f\n", plan.Epsilon)
	// Output:
	// item counts: σ = 23.9, ρ = 0.0140
	// pair counts: σ = 65.5, ρ = 0.0140
	// ε spent = 1.000
}

func ExampleOpenFileLedger() {
	dir, _ := os.MkdirTemp("", "ledger")
	defer os.RemoveAll(dir)
	ledger, err := dp.OpenFileLedger(filepath.Join(dir, "budget.ledger"), dp.LedgerOptions{
		Budget: dp.Budget{Epsilon: 1.8, Delta: 1e-6},
		Create: true, // a new ledger; later runs open it without Create
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ledger.Close()
	plan, _ := dp.NewPlan(dp.PlanOptions{Epsilon: 1, Delta: 1e-6, Parts: []dp.PartSpec{{Name: "counts", L0: 16, LInf: 1, Share: 1}}})
	for i := range 3 {
		_, err := ledger.Debit(context.Background(), dp.Charge{Release: fmt.Sprint("weekly-", i), Cost: plan.Cost, Epsilon: plan.Epsilon, Delta: 1e-6})
		fmt.Println(i, err)
	}
	// Output:
	// 0 <nil>
	// 1 <nil>
	// 2 dp: privacy budget exceeded: this release needs ε = 0.9995; 1.454 of the cap ε = 1.8 is already spent (δ = 1e-06, no horizon)
}

func ExampleCost_Epsilon() {
	// Ten Gaussian releases of ρ = 0.01 each compose to ρ = 0.1.
	var total dp.Cost
	for range 10 {
		total = total.Add(dp.Cost{Rho: 0.01})
	}
	eps, _ := total.Epsilon(1e-6)
	fmt.Printf("ε = %.3f at δ = 1e-6\n", eps)
	// Output:
	// ε = 1.995 at δ = 1e-6
}

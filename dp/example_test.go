package dp_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/privrec/privrec/dp"
)

func ExampleNewPlan() {
	plan, err := dp.NewPlan(dp.Params{Epsilon: 1, Delta: 1e-6, MaxItemsPerUser: 16})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("item noise σ = %.1f, pair noise σ = %.1f, ε spent = %.3f\n",
		plan.Items.Sigma(), plan.Pairs.Sigma(), plan.Epsilon)
	// Output:
	// item noise σ = 23.9, pair noise σ = 65.5, ε spent = 1.000
}

func ExampleOpenFileLedger() {
	dir, _ := os.MkdirTemp("", "ledger")
	defer os.RemoveAll(dir)
	ledger, err := dp.OpenFileLedger(filepath.Join(dir, "budget.ledger"), dp.LedgerOptions{
		Budget: dp.Budget{Epsilon: 1.8, Delta: 1e-6},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ledger.Close()
	plan, _ := dp.NewPlan(dp.Params{Epsilon: 1, Delta: 1e-6})
	for i := range 3 {
		_, err := ledger.Debit(context.Background(), dp.Charge{Release: fmt.Sprint("weekly-", i), Cost: plan.Cost, Epsilon: plan.Epsilon, Delta: 1e-6})
		fmt.Println(i, err)
	}
	// Output:
	// 0 <nil>
	// 1 <nil>
	// 2 dp: privacy budget exceeded: this release needs ε = 0.9996; 1.454 of the cap ε = 1.8 is already spent (δ = 1e-06, no horizon)
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

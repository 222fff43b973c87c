package pseudonym_test

import (
	"fmt"
	"time"

	"github.com/privrec/privrec/pseudonym"
)

func ExampleKeyring_Pseudonymize() {
	secret := make([]byte, pseudonym.MinSecretLen) // use pseudonym.GenerateSecret in real code
	kr, err := pseudonym.New(secret, pseudonym.Options{PeriodLength: 7 * 24 * time.Hour})
	if err != nil {
		fmt.Println(err)
		return
	}
	at := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	p := kr.Period(at)
	a, _ := kr.Pseudonymize(p, "customer-17850")
	b, _ := kr.Pseudonymize(p, "customer-17850")
	next, _ := kr.Pseudonymize(p+1, "customer-17850")
	fmt.Println(a == b, a == next)
	fmt.Println(a) // pseudonyms never print
	fmt.Println(kr)
	// Output:
	// true false
	// pseudonym.ID(redacted)
	// pseudonym.Keyring{purpose: "events", period: 168h0m0s, secret: redacted}
}

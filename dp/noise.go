package dp

import "fmt"

// Noise selects the noise distribution of a plan.
type Noise int

const (
	// Gaussian noise, calibrated to L2 sensitivity and accounted in zCDP.
	// Needs δ > 0. The default.
	Gaussian Noise = iota
	// Laplace noise, calibrated to L1 sensitivity: pure ε-DP unless a part
	// thresholds.
	Laplace
)

// String returns "gaussian" or "laplace".
func (n Noise) String() string {
	switch n {
	case Gaussian:
		return "gaussian"
	case Laplace:
		return "laplace"
	}
	return fmt.Sprintf("Noise(%d)", int(n))
}

// ParseNoise parses the names String returns.
func ParseNoise(s string) (Noise, error) {
	switch s {
	case "gaussian":
		return Gaussian, nil
	case "laplace":
		return Laplace, nil
	}
	return 0, fmt.Errorf("dp: unknown noise %q (want gaussian or laplace)", s)
}

package retailcat

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCategory(t *testing.T) {
	for _, tc := range []struct{ desc, want string }{
		{"WHITE HANGING HEART T-LIGHT HOLDER", "candles"}, // T-LIGHT comes before HEART
		{"ROSES REGENCY TEACUP AND SAUCER", "kitchen"},
		{"paper chain kit 50's christmas", "christmas"}, // case does not matter; the first keyword wins
		{"JUMBO BAG RED RETROSPOT", "bags"},
		{"ASSORTED COLOURS SILK FAN", ""},
		{"", ""},
	} {
		assert.Equal(t, tc.want, Category(tc.desc), tc.desc)
	}
}

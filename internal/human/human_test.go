package human

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestDuration(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{9000 * time.Hour, "375 days"},
		{7 * 24 * time.Hour, "7 days"},
		{24 * time.Hour, "24 hours"},
		{36 * time.Hour, "36 hours"},
		{time.Hour, "1 hour"},
		{90 * time.Minute, "1h30m0s"},
		{0, "0s"},
	} {
		assert.Equal(t, tc.want, Duration(tc.d), "%v", tc.d)
	}
}

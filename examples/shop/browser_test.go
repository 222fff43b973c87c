package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// findChrome returns a Chromium or Chrome binary, or "".
func findChrome() string {
	if p := os.Getenv("PRIVREC_CHROME"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// artifactDir is where screenshots go: $PRIVREC_ARTIFACTS, or
// examples/shop/artifacts (ignored by git).
func artifactDir(t *testing.T) string {
	dir := os.Getenv("PRIVREC_ARTIFACTS")
	if dir == "" {
		dir = "artifacts"
	}
	dir = filepath.Join(dir, "screenshots")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	return dir
}

// TestBrowserShopFlow drives headless Chromium through the shop: open a
// product, add it and a second one to the cart, see the cart's
// recommendations with their explanations, and read ε on the privacy page.
func TestBrowserShopFlow(t *testing.T) {
	chrome := findChrome()
	if chrome == "" {
		if os.Getenv("PRIVREC_REQUIRE_BROWSER") != "" {
			t.Fatal("no Chromium found, and PRIVREC_REQUIRE_BROWSER is set (.ci/run installs it: apt-get install chromium)")
		}
		t.Skip("no Chromium found: install it (Debian: apt-get install chromium) or set PRIVREC_CHROME to run the browser test")
	}
	srv := newHTTPTestServer(t)
	shots := artifactDir(t)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome),
		chromedp.NoSandbox,
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1200, 1000),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	// The first action starts the browser, which lives as long as the
	// context of that call: no timeout on it (see chromedp.Run).
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate("about:blank")))
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	defer cancelTimeout()

	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			buf, err := chromedp.FullScreenshot(100)(ctx, tg) // quality 100 means PNG
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(shots, name), buf, 0o644)
		})
	}
	text := func(id string, into *string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			v, err := chromedp.Text(chromedp.ID(id))(ctx, tg)
			*into = v
			return err
		})
	}

	var productName, cartRecs, cartItems, epsilon string
	err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/product/22697"),
		chromedp.WaitVisible(chromedp.ID("add-to-cart")),
		text("product-name", &productName),
		shot("1-product.png"),
		chromedp.Click(chromedp.ID("add-to-cart")),
		chromedp.WaitVisible(chromedp.ID("cart-items")),
		chromedp.Navigate(srv.URL+"/product/22698"),
		chromedp.WaitVisible(chromedp.ID("add-to-cart")),
		chromedp.Click(chromedp.ID("add-to-cart")),
		chromedp.WaitVisible(chromedp.ID("cart-recs")),
		text("cart-items", &cartItems),
		text("cart-recs", &cartRecs),
		shot("2-cart.png"),
		chromedp.Click(chromedp.ID("privacy-link")),
		chromedp.WaitVisible(chromedp.ID("epsilon")),
		text("epsilon", &epsilon),
		shot("3-privacy.png"),
	)
	require.NoError(t, err)
	assert.Contains(t, productName, "green regency teacup and saucer")
	assert.Contains(t, cartItems, "green regency teacup and saucer")
	assert.Contains(t, cartItems, "pink regency teacup and saucer")
	assert.Contains(t, cartRecs, "Because you have")
	assert.Contains(t, cartRecs, "in your cart")
	assert.Equal(t, 6, strings.Count(cartRecs, "Because you have")+strings.Count(cartRecs, "Popular with other shoppers")+
		strings.Count(cartRecs, "Popular in "), "every recommendation carries an explanation")
	assert.Contains(t, epsilon, "ε = 4.00")
	for _, f := range []string{"1-product.png", "2-cart.png", "3-privacy.png"} {
		fi, err := os.Stat(filepath.Join(shots, f))
		require.NoError(t, err)
		assert.Greater(t, fi.Size(), int64(5000), f)
	}
	t.Logf("screenshots in %s", shots)
}

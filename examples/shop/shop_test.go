package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/privrec/privrec/httpapi"
	"github.com/privrec/privrec/recommend"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	shopOnce sync.Once
	testShop *shop
	shopErr  error
)

// sharedShop builds one shop (ε = 4) for all tests of the package.
func sharedShop(t *testing.T) *shop {
	t.Helper()
	shopOnce.Do(func() {
		dir, err := osMkdirTemp()
		if err != nil {
			shopErr = err
			return
		}
		testShop, shopErr = newShop(context.Background(), Options{Epsilon: 4, Dir: dir, Logger: slog.New(slog.DiscardHandler)})
	})
	require.NoError(t, shopErr)
	return testShop
}

func newHTTPTestServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(sharedShop(t).routes())
	t.Cleanup(srv.Close)
	return srv
}

func jarClient(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{Jar: jar}
}

func get(t *testing.T, c *http.Client, u string) (int, string, http.Header) {
	t.Helper()
	resp, err := c.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b), resp.Header
}

func TestShopPages(t *testing.T) {
	srv := httptest.NewServer(sharedShop(t).routes())
	defer srv.Close()
	c := jarClient(t)

	code, body, hdr := get(t, c, srv.URL+"/")
	require.Equal(t, 200, code)
	assert.Contains(t, body, "Popular now")
	assert.Contains(t, hdr.Get("Content-Security-Policy"), "default-src 'self'")
	assert.Empty(t, hdr.Values("Set-Cookie"), "no cookie until something is put in the cart")

	code, body, _ = get(t, c, srv.URL+"/?category=christmas")
	require.Equal(t, 200, code)
	assert.Contains(t, body, "Popular in christmas")

	code, body, _ = get(t, c, srv.URL+"/product/22697")
	require.Equal(t, 200, code)
	assert.Contains(t, body, "green regency teacup and saucer")
	assert.Contains(t, body, "Customers who bought this also bought")

	code, _, _ = get(t, c, srv.URL+"/product/NOPE")
	assert.Equal(t, 404, code)

	for _, id := range []string{"22697", "22698", "22697", "not-an-item"} {
		resp, err := c.PostForm(srv.URL+"/cart/add", url.Values{"id": {id}})
		require.NoError(t, err)
		resp.Body.Close()
		if id == "not-an-item" {
			assert.Equal(t, 400, resp.StatusCode)
		} else {
			assert.Equal(t, 200, resp.StatusCode, "redirected to the cart")
		}
	}
	code, body, _ = get(t, c, srv.URL+"/cart")
	require.Equal(t, 200, code)
	assert.Contains(t, body, "Cart (2)", "duplicates are not added twice")
	assert.Contains(t, body, "Recommended for your cart")
	// At ε = 4 the regency teacups have strong released pairs (their
	// neighbours clear the noise threshold by several σ), so at least one
	// recommendation is explained by the cart.
	assert.Regexp(t, `Because you have (green|pink) regency teacup and saucer( and (green|pink) regency teacup and saucer)? in your cart`, body)

	u, _ := url.Parse(srv.URL)
	cookies := c.Jar.Cookies(u)
	require.Len(t, cookies, 1, "the cart is the only cookie")
	assert.Equal(t, cartCookie, cookies[0].Name)

	resp, err := c.PostForm(srv.URL+"/cart/remove", url.Values{"id": {"22697"}})
	require.NoError(t, err)
	resp.Body.Close()
	_, body, _ = get(t, c, srv.URL+"/cart")
	assert.Contains(t, body, "Cart (1)")

	code, body, _ = get(t, c, srv.URL+"/privacy")
	require.Equal(t, 200, code)
	assert.Contains(t, body, "ε = 4.00")
	assert.Contains(t, body, "How pseudonyms work")
	assert.Contains(t, body, "never stored")
}

func TestShopRejectsTamperedCart(t *testing.T) {
	srv := httptest.NewServer(sharedShop(t).routes())
	defer srv.Close()
	req, err := http.NewRequest("GET", srv.URL+"/cart", nil)
	require.NoError(t, err)
	req.AddCookie(&http.Cookie{Name: cartCookie, Value: url.QueryEscape("<script>|22697|" + strings.Repeat("x|", 500))})
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	assert.Equal(t, 200, resp.StatusCode)
	assert.Contains(t, string(b), "Cart (1)", "only known items are kept")
	assert.NotContains(t, string(b), "<script>")
}

// With -api the shop asks another privrec server; one without a model
// makes the pages say recommendations are unavailable, not crash.
func TestShopAsksAnotherServer(t *testing.T) {
	none := httptest.NewServer(httpapi.NewHandler(func() *recommend.Model { return nil }, httpapi.Options{Logger: slog.New(slog.DiscardHandler)}))
	defer none.Close()
	s, err := newShop(context.Background(), Options{API: none.URL, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	srv := httptest.NewServer(s.routes())
	defer srv.Close()
	for _, page := range []string{"/", "/product/22697", "/privacy", "/cart"} {
		code, body, _ := get(t, jarClient(t), srv.URL+page)
		assert.Equal(t, http.StatusBadGateway, code, page)
		assert.Contains(t, body, "unavailable", page)
	}
	// The shared shop's own API answers the same pages.
	own := sharedShop(t)
	s2, err := newShop(context.Background(), Options{API: strings.TrimSuffix(ownURL(own), "/"), Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	srv2 := httptest.NewServer(s2.routes())
	defer srv2.Close()
	code, body, _ := get(t, jarClient(t), srv2.URL+"/product/22697")
	assert.Equal(t, http.StatusOK, code)
	assert.GreaterOrEqual(t, strings.Count(body, `href="/product/`), 6, "six recommendations")
}

// ownURL is the base URL of the API server a shop started for itself.
func ownURL(s *shop) string { return s.apiURL }

package armtest

import (
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// Browser is a user agent for mlgov's sign-in pages, for tests: it
// keeps cookies and does not follow redirects (the test reads where it
// is sent).
type Browser struct {
	t    *testing.T
	base string
	c    *http.Client
}

// NewBrowser returns a browser of the server at base with client's
// transport (one that trusts the server).
func NewBrowser(t *testing.T, client *http.Client, base string) *Browser {
	jar, _ := cookiejar.New(nil)
	return &Browser{t: t, base: strings.TrimRight(base, "/"), c: &http.Client{Transport: client.Transport, Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (s *Server) newBrowser(t *testing.T) *Browser { return NewBrowser(t, s.Client, s.URL) }

// Page is a response of the sign-in pages.
type Page struct {
	Status   int
	Location string
	Body     string
}

func (b *Browser) do(req *http.Request) Page {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return Page{resp.StatusCode, resp.Header.Get("Location"), string(body)}
}

// Get gets a URL.
func (b *Browser) Get(u string) Page {
	b.t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	return b.do(req)
}

// Post posts a form to a path of the server.
func (b *Browser) Post(path string, form url.Values) Page {
	b.t.Helper()
	req, _ := http.NewRequest("POST", b.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var hiddenField = regexp.MustCompile(`name="(flow|stage)" value="([^"]*)"`)

// Submit posts a page's sign-in form with the fields given added.
func (b *Browser) Submit(p Page, fields url.Values) Page {
	b.t.Helper()
	form := url.Values{}
	for _, m := range hiddenField.FindAllStringSubmatch(p.Body, -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	if form.Get("flow") == "" {
		b.t.Fatalf("no sign-in form on the page: %d %s", p.Status, p.Body)
	}
	for k, v := range fields {
		form[k] = v
	}
	return b.Post("/oauth2/flow", form)
}

// DeviceSignIn signs a user in on the device verification page: the
// code, then the password; it returns the page that follows (done, or
// the MFA stages).
func (b *Browser) DeviceSignIn(userCode, username, password string) Page {
	b.t.Helper()
	p := b.Post("/devicelogin", url.Values{"code": {userCode}})
	if p.Stage() != "password" {
		b.t.Fatalf("device verification page: %d %s", p.Status, p.Body)
	}
	return b.Submit(p, url.Values{"username": {username}, "password": {password}})
}

var (
	stageField = regexp.MustCompile(`name="stage" value="([a-z]+)"`)
	errorPara  = regexp.MustCompile(`(?s)id="error">(.*?)</p>`)
	secretCode = regexp.MustCompile(`id="secret">([A-Z2-7]+)<`)
)

// Stage is the sign-in stage a page asks for ("" : none).
func (p Page) Stage() string {
	if m := stageField.FindStringSubmatch(p.Body); m != nil {
		return m[1]
	}
	return ""
}

// Done reports whether the page says the device sign-in is done.
func (p Page) Done() bool { return p.Status == 200 && strings.Contains(p.Body, `id="done"`) }

// ErrorText is the error a page shows.
func (p Page) ErrorText() string {
	if m := errorPara.FindStringSubmatch(p.Body); m != nil {
		return html.UnescapeString(m[1])
	}
	return ""
}

// Secret is the authenticator key an enrolment page shows.
func (p Page) Secret() string {
	if m := secretCode.FindStringSubmatch(p.Body); m != nil {
		return m[1]
	}
	return ""
}

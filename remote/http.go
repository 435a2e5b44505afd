package remote

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/icedeck/icedeck/engine"
)

// maxBody bounds what is read of one answer: a status with ten thousand
// listeners is a few megabytes.
const maxBody = 32 << 20

// httpError is an answer with a status other than the one expected.
type httpError struct {
	code int
	msg  string // what the body says, one line
}

func (e *httpError) Error() string {
	if e.msg == "" {
		return fmt.Sprintf("HTTP %d %s", e.code, http.StatusText(e.code))
	}
	return fmt.Sprintf("HTTP %d: %s", e.code, e.msg)
}

// badAnswer is an answer that is not what an icedeck or an Icecast says.
type badAnswer struct{ msg string }

func (e *badAnswer) Error() string { return e.msg }

func badf(format string, a ...any) error { return &badAnswer{fmt.Sprintf(format, a...)} }

// classify tells from a poll's error how the server is doing.
func classify(err error) State {
	var he *httpError
	var ba *badAnswer
	switch {
	case errors.As(err, &he):
		switch he.code {
		case http.StatusUnauthorized, http.StatusForbidden, http.StatusTooManyRequests:
			return StateUnauthorized
		}
		return StateError
	case errors.As(err, &ba):
		return StateError
	}
	return StateUnreachable
}

// request sends method path?q (with the admin credentials when there are
// some) and returns the answer's status, header and body. A transport
// failure is an error; any status is not.
func (c *Client) request(ctx context.Context, method, path string, q url.Values, body io.Reader, header http.Header) (int, http.Header, []byte, error) {
	u := *c.base
	u.Path = path
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return 0, nil, nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if c.password != "" {
		req.SetBasicAuth(c.user, c.password)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, nil, cleanErr(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return 0, nil, nil, cleanErr(err)
	}
	return resp.StatusCode, resp.Header, b, nil
}

// cleanErr says a transport failure without Go's request wrapping (the
// method and URL are known to whoever reads it).
func cleanErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("no answer in time (%w)", err)
	}
	return err
}

// get is request for GET, with any status other than 200 an httpError.
func (c *Client) get(ctx context.Context, path string, q url.Values) (http.Header, []byte, error) {
	code, h, b, err := c.request(ctx, http.MethodGet, path, q, nil, nil)
	if err != nil {
		return nil, nil, err
	}
	if code != http.StatusOK {
		return h, b, &httpError{code, bodyText(b)}
	}
	return h, b, nil
}

var (
	tags   = regexp.MustCompile(`<[^>]*>`)
	spaces = regexp.MustCompile(`\s+`)
)

// bodyText is the gist of an error page or document, one short line: its
// "error" or message when it has one, else its text without markup.
func bodyText(b []byte) string {
	var ir iceResponse
	if xml.Unmarshal(b, &ir) == nil && ir.Message != "" {
		return ir.Message
	}
	var je struct{ Error string }
	if json.Unmarshal(b, &je) == nil && je.Error != "" {
		return engine.CleanText(je.Error)
	}
	s := strings.TrimSpace(spaces.ReplaceAllString(tags.ReplaceAllString(string(b), " "), " "))
	// Icecast's error pages say "<b>400 - Source does not exist</b>".
	if i := strings.Index(s, " - "); i > 0 && i <= 4 {
		s = s[i+3:]
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return engine.CleanText(s)
}

// iceResponse is the answer of an Icecast admin command.
type iceResponse struct {
	XMLName xml.Name `xml:"iceresponse"`
	Message string   `xml:"message"`
	Return  int      `xml:"return"`
}

// admin runs an Icecast admin command, which icedeck answers the same
// way, and returns its message. What it says went wrong is the error,
// "no such mount" and "no such listener" as the engine's errors.
func (c *Client) admin(ctx context.Context, cmd string, q url.Values) (string, error) {
	code, _, b, err := c.request(ctx, http.MethodGet, "/admin/"+cmd, q, nil, nil)
	if err != nil {
		return "", err
	}
	msg := bodyText(b)
	var ir iceResponse
	ok := xml.Unmarshal(b, &ir) == nil && ir.Return == 1
	switch {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return "", &httpError{code, msg}
	case ok && code == http.StatusOK && !strings.Contains(msg, "will not accept"):
		return msg, nil
	}
	low := strings.ToLower(msg)
	switch {
	case strings.Contains(low, "source does not exist"), strings.Contains(low, "no such destination"),
		strings.Contains(low, "destination not running"), strings.Contains(low, "source not connected"):
		return "", fmt.Errorf("%s: %w", msg, engine.ErrNoMount)
	case strings.Contains(low, "not found"), strings.Contains(low, "no such client"):
		return "", fmt.Errorf("%s: %w", msg, engine.ErrNoClient)
	case msg == "":
		return "", &httpError{code, ""}
	}
	return "", errors.New(msg)
}

// adminActions are the actions both kinds take through Icecast's admin
// commands.
type adminActions struct{ c *Client }

func (a adminActions) kickListener(ctx context.Context, mount string, id uint64) error {
	_, err := a.c.admin(ctx, "killclient", url.Values{"mount": {mount}, "id": {strconv.FormatUint(id, 10)}})
	return err
}

func (a adminActions) kickSource(ctx context.Context, mount string) error {
	_, err := a.c.admin(ctx, "killsource", url.Values{"mount": {mount}})
	return err
}

// setTitle sends the title in UTF-8: Icecast takes ISO-8859-1 unless told.
func (a adminActions) setTitle(ctx context.Context, mount, title, link string) error {
	q := url.Values{"mode": {"updinfo"}, "mount": {mount}, "song": {title}, "charset": {"UTF-8"}}
	if link != "" {
		q.Set("url", link)
	}
	_, err := a.c.admin(ctx, "metadata", q)
	return err
}

package lobby

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// maxResponseBytes bounds a lobby answer a client reads: a room list of
// thousands of rooms fits.
const maxResponseBytes = 4 << 20

// Client calls a server's lobby. It works natively and in the browser
// (where net/http uses fetch). The zero value is not usable: set Base.
type Client struct {
	// Base is the server's base URL, "http(s)://host:port".
	Base string
	// Key is the lobby key (the server's -lobby-key), sent as a bearer
	// token on POSTs; empty sends none.
	Key string
	// Header is added to every request.
	Header http.Header
	// HTTP is the client to use; nil means http.DefaultClient.
	HTTP *http.Client
}

// Error is a lobby's refusal: the HTTP status and the server's reason.
type Error struct {
	Status int
	Reason string
}

func (e *Error) Error() string {
	return fmt.Sprintf("lobby: %d %s: %s", e.Status, http.StatusText(e.Status), e.Reason)
}

// Rooms lists the listed rooms of every process.
func (c *Client) Rooms(ctx context.Context) ([]Room, error) {
	var out Rooms
	if err := c.do(ctx, http.MethodGet, PathRooms, nil, &out); err != nil {
		return nil, err
	}
	return out.Rooms, nil
}

// Create opens a room on the least-loaded process and says where it
// lives.
func (c *Client) Create(ctx context.Context, req CreateRequest) (Room, error) {
	var out Room
	return out, c.do(ctx, http.MethodPost, PathRooms, req, &out)
}

// Join asks for a seat in room id, listed or private.
func (c *Client) Join(ctx context.Context, id string, req JoinRequest) (Join, error) {
	var out Join
	return out, c.do(ctx, http.MethodPost, PathRooms+"/"+url.PathEscape(id)+"/join", req, &out)
}

// QuickPlay asks the lobby to pick a room (or open one) and a seat in it.
func (c *Client) QuickPlay(ctx context.Context, req QuickPlayRequest) (Join, error) {
	var out Join
	return out, c.do(ctx, http.MethodPost, PathQuickPlay, req, &out)
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("lobby: %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.Base, "/")+path, body)
	if err != nil {
		return fmt.Errorf("lobby: %s %s: %w", method, path, err)
	}
	for k, v := range c.Header {
		req.Header[k] = v
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
		if c.Key != "" {
			req.Header.Set("Authorization", "Bearer "+c.Key)
		}
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("lobby: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return fmt.Errorf("lobby: %s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var eb ErrorBody
		if json.Unmarshal(data, &eb) != nil || eb.Error == "" {
			eb.Error = strings.TrimSpace(string(data))
		}
		return &Error{Status: resp.StatusCode, Reason: eb.Error}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("lobby: %s %s: decoding the answer: %w", method, path, err)
	}
	return nil
}

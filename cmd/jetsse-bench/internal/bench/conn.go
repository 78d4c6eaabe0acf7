package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// connection makes one connection and reads it until it ends. A nil error
// means the server ended the body cleanly. It holds a slot of the fleet's
// dial limit from dialing until the response head has been read.
func (c *Client) connection(ctx context.Context) error {
	f := c.fleet
	select {
	case f.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	released := false
	release := func() {
		if !released {
			released = true
			<-f.sem
		}
	}
	defer release()

	now := time.Now().UnixNano()
	c.RequestAt.CompareAndSwap(0, now)
	d := f.dialers[c.idx%len(f.dialers)]
	conn, err := d.DialContext(ctx, "tcp", f.ep.addr)
	if err != nil {
		return fmt.Errorf("%w: %w", errConnect, err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()

	head, body, err := c.handshake(conn)
	if err != nil {
		return err
	}
	release()
	return c.readBody(conn, head, body)
}

// handshake writes the request and reads the response head, both within
// the connect timeout. It returns the head of a 200 response (whose token,
// if any, becomes the client's) and the body bytes read with it; other
// statuses are an *HTTPError, failures before a head wrap errConnect.
func (c *Client) handshake(conn net.Conn) (responseHead, []byte, error) {
	f := c.fleet
	if c.buf == nil {
		c.buf = make([]byte, f.cfg.SSE.ReadBuffer)
	}
	_ = conn.SetDeadline(time.Now().Add(f.cfg.SSE.ConnectTimeout))
	if _, err := conn.Write(c.request(c.buf[:0])); err != nil {
		return responseHead{}, nil, fmt.Errorf("%w: writing request: %w", errConnect, err)
	}
	head, body, err := readHead(conn, c.buf)
	if err != nil {
		return responseHead{}, nil, fmt.Errorf("%w: %w", errConnect, err)
	}
	if head.status != 200 {
		msg := strings.TrimSpace(string(body))
		if len(msg) > 200 {
			msg = msg[:200]
		}
		return responseHead{}, nil, &HTTPError{Status: head.status, Body: msg}
	}
	if head.token != "" {
		c.Token = head.token
	}
	_ = conn.SetDeadline(time.Time{})
	return head, body, nil
}

// readBody feeds the response body to the client's parser until it ends:
// chunked, sized by Content-Length, or up to EOF. body is what was read
// with the head. A nil error means the body ended cleanly.
func (c *Client) readBody(conn net.Conn, head responseHead, body []byte) error {
	c.dec = chunkDecoder{}
	c.parser.newStream()
	left := head.length
	feed := func(b []byte) (bool, error) {
		switch {
		case head.chunked:
			return c.dec.feed(b, c.parser)
		case left >= 0:
			if int64(len(b)) > left {
				b = b[:left]
			}
			left -= int64(len(b))
			return left == 0, c.parser.Feed(b)
		}
		return false, c.parser.Feed(b)
	}
	if len(body) > 0 {
		done, err := feed(body)
		if done || err != nil {
			return err
		}
	}
	for {
		n, err := conn.Read(c.buf)
		if n > 0 {
			done, ferr := feed(c.buf[:n])
			if done || ferr != nil {
				return ferr
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				if !head.chunked && head.length < 0 {
					return nil
				}
				return io.ErrUnexpectedEOF
			}
			return err
		}
	}
}

// request appends the subscribe request to b: the resume URL when the
// client presents its position and knows every value that URL uses,
// otherwise the live URL; Last-Event-ID and the token as the client's
// fields say. It records whether a token was presented.
func (c *Client) request(b []byte) []byte {
	b = append(b, "GET "...)
	ep := c.fleet.ep
	done := false
	if c.PresentID && !ep.resume.empty() {
		start := len(b)
		if b, done = ep.resume.expand(b, c.topic, c.LastEventID, c.captured); !done {
			b = b[:start]
		}
	}
	if !done {
		b, _ = ep.live.expand(b, c.topic, nil, nil)
	}
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, c.fleet.ep.host...)
	b = append(b, "\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\nUser-Agent: jetsse-bench\r\n"...)
	if c.PresentID && len(c.LastEventID) > 0 {
		b = append(b, "Last-Event-ID: "...)
		b = append(b, c.LastEventID...)
		b = append(b, "\r\n"...)
	}
	c.presented = c.Token != "" && c.PresentToken != TokenNone
	if c.presented {
		switch c.PresentToken {
		case TokenHeader:
			b = append(b, SessionHeader+": "...)
			b = append(b, c.Token...)
			b = append(b, "\r\n"...)
		case TokenCookie:
			b = append(b, "Cookie: "+CookieName+"="...)
			b = append(b, c.Token...)
			b = append(b, "\r\n"...)
		}
	}
	return append(b, "\r\n"...)
}

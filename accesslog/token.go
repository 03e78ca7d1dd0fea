package accesslog

import (
	"bytes"
	"errors"
	"net"
	"os"

	"github.com/go-kit/log/level"
)

// rejectToken is the reason a connection was closed for its token, beside
// tcpserve's peer and limit.
const rejectToken = "token"

// linePrefix is what every line of conn must begin with: the token in
// TokenFile and a space; nil when no token is asked for. It reads the file
// for each connection, because Squid writes a new token each time it
// starts and then opens new connections. ok is false when the file has no
// token: the connection is then refused, as no line could prove itself.
func (r *Receiver) linePrefix(conn net.Conn) (prefix []byte, ok bool) {
	if r.TokenFile == "" {
		return nil, true
	}
	token, err := os.ReadFile(r.TokenFile)
	token = bytes.TrimSpace(token) // the writer's newline is no part of it
	if err == nil && len(token) == 0 {
		err = errors.New("the file is empty")
	}
	if err != nil {
		r.RejectedToken.Add(1)
		level.Warn(r.Logger).Log("msg", "no access log token to check lines against; connection closed",
			"reason", rejectToken, "file", r.TokenFile, "remote", conn.RemoteAddr(), "err", err)
		return nil, false
	}
	// A copy of its own size: ReadFile's buffer is larger, and a connection
	// may hold this for hours.
	return append(append(make([]byte, 0, len(token)+1), token...), ' '), true
}

// refuseLine counts and logs a connection closed at a line without the
// token. Neither the line nor the token is logged: the one may be forged,
// the other is the secret.
func (r *Receiver) refuseLine(conn net.Conn) {
	r.RejectedToken.Add(1)
	level.Warn(r.Logger).Log("msg", "access log line without the token; connection closed",
		"reason", rejectToken, "remote", conn.RemoteAddr())
}

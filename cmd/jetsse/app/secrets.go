package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/jetsse/jetsse/pkg/atomicfile"
	"github.com/jetsse/jetsse/pkg/auth"
	"github.com/jetsse/jetsse/pkg/eventlog"
	"github.com/jetsse/jetsse/pkg/session"
)

// loadSessionKeys reads --session-key-file, or the key file in the data
// dir. A missing key file in the data dir is generated, unless sessions
// exist already: they were signed with the lost key, and a new one would
// silently turn every reconnect into a new session that starts live, losing
// the events published meanwhile. That refuses to start, unless
// --regenerate-session-key says to go on (and it is logged).
func loadSessionKeys(ctx context.Context, c config, log *eventlog.Log, logger *slog.Logger) (*session.Keyring, error) {
	if c.sessionKeyFile != "" {
		keys, err := session.LoadOrCreateKeyFile(c.sessionKeyFile, false, rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("--session-key-file: %w", err)
		}
		return keys, nil
	}
	path := filepath.Join(c.dataDir, "session.key")
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		sessions, err := log.CountSessions(ctx)
		if err != nil {
			return nil, fmt.Errorf("checking for sessions before making a session key: %w", err)
		}
		switch {
		case sessions > 0 && !c.regenerateSessionKey:
			return nil, fmt.Errorf("session key %s is missing, but %d sessions exist: they were signed with it. "+
				"Restore the file (or pass the key with --session-key-file); "+
				"or start with --regenerate-session-key to make a new key, ending every session (clients start over without their missed events)", path, sessions)
		case sessions > 0:
			logger.Warn("made a new session key: every session token issued before is now invalid", "file", path, "sessions", sessions)
		default:
			logger.Info("made a new session key", "file", path)
		}
	}
	keys, err := session.LoadOrCreateKeyFile(path, true, rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("session key: %w", err)
	}
	return keys, nil
}

// minTokenLen is the shortest bearer token accepted, in bytes.
const minTokenLen = 16

// bearerToken is one of the edge's bearer tokens: the publish token, the
// admin token.
type bearerToken struct {
	flag  string // the flag that gives it ("publish-token")
	value string // the flag's value ("" when not given)
	file  string // where it is kept when not given, in the data dir
}

// loadToken returns the token of t's flag, or the token kept in its file,
// generating one (mode 0600) on first start so the routes it guards are
// never open. A token shorter than minTokenLen bytes is refused, and so is
// a token file that group or others may read or write.
func loadToken(t bearerToken) (token string, generated bool, err error) {
	if t.value != "" {
		if len(t.value) < minTokenLen {
			return "", false, fmt.Errorf("--%s: the token is %d bytes, at least %d are needed (e.g. openssl rand -hex 24)", t.flag, len(t.value), minTokenLen)
		}
		return t.value, false, nil
	}
	b, err := os.ReadFile(t.file)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return "", false, fmt.Errorf("reading %s: %w", t.file, err)
	case strings.TrimSpace(string(b)) != "":
		if err := auth.CheckSecretFile(t.file); err != nil {
			return "", false, fmt.Errorf("the %s file: %w", t.flag, err)
		}
		token = strings.TrimSpace(string(b))
		if len(token) < minTokenLen {
			return "", false, fmt.Errorf("%s: the token is %d bytes, at least %d are needed (delete the file to have one generated)", t.file, len(token), minTokenLen)
		}
		return token, false, nil
	}
	token = randomHex(24)
	if err := atomicfile.Write(t.file, []byte(token+"\n"), 0o600); err != nil {
		return "", false, err
	}
	return token, true, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// loadTokens returns the publish token and, with an admin listener, the
// admin token (loadToken's rules). A generated token is logged with its
// file but redacted: the file is where to read it.
func loadTokens(c config, logger *slog.Logger) (publish, admin string, err error) {
	t := bearerToken{flag: "publish-token", value: c.publishToken, file: filepath.Join(c.dataDir, "publish.token")}
	publish, generated, err := loadToken(t)
	if err != nil {
		return "", "", err
	}
	if generated {
		logger.Info("generated a publish token (POST /publish needs Authorization: Bearer <token>)",
			"file", t.file, "token", auth.Redact(publish))
	}
	if c.adminAddr == "" {
		return publish, "", nil
	}
	t = bearerToken{flag: "admin-token", value: c.adminToken, file: filepath.Join(c.dataDir, "admin.token")}
	admin, generated, err = loadToken(t)
	if err != nil {
		return "", "", err
	}
	if generated {
		logger.Info("generated an admin token (the admin API, /readyz and /debug/pprof/ on the admin listener need Authorization: Bearer <token>)",
			"file", t.file, "token", auth.Redact(admin))
	}
	return publish, admin, nil
}

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

// loadPublishToken returns --publish-token, or the token stored in the data
// dir, generating one on first start so /publish is never open.
func loadPublishToken(c config) (token string, generated bool, err error) {
	if c.publishToken != "" {
		return c.publishToken, false, nil
	}
	path := filepath.Join(c.dataDir, "publish.token")
	b, err := os.ReadFile(path)
	if err == nil && strings.TrimSpace(string(b)) != "" {
		return strings.TrimSpace(string(b)), false, nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", false, fmt.Errorf("reading %s: %w", path, err)
	}
	token = randomHex(24)
	if err := atomicfile.Write(path, []byte(token+"\n"), 0o600); err != nil {
		return "", false, err
	}
	return token, true, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

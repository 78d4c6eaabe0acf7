// Package session implements session identities and the signed tokens that
// carry them: 128-bit random session IDs, HMAC-SHA256 tokens, and a keyring
// that signs with its newest key and verifies with every listed key, so keys
// can be rotated without logging anybody out.
//
// It knows nothing of HTTP or NATS.
package session

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/jetsse/jetsse/pkg/atomicfile"
)

// IDLen is the length of a session ID in bytes (128 bits).
const IDLen = 16

// ID is a session identifier: 128 random bits.
type ID [IDLen]byte

// NewID returns a new random ID read from r (crypto/rand.Reader in
// production).
func NewID(r io.Reader) (ID, error) {
	var id ID
	if _, err := io.ReadFull(r, id[:]); err != nil {
		return ID{}, fmt.Errorf("session: reading random ID: %w", err)
	}
	return id, nil
}

// String returns the ID as 32 lowercase hex digits. It is safe to use in NATS
// subjects and consumer names.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// ErrInvalidID is returned by ParseID for anything but 32 hex digits.
var ErrInvalidID = errors.New("session: invalid session ID")

// ParseID parses the String form of an ID.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 2*IDLen || strings.ToLower(s) != s {
		return ID{}, ErrInvalidID
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return ID{}, ErrInvalidID
	}
	return id, nil
}

// MinKeyLen is the shortest key accepted, in bytes.
const MinKeyLen = 32

// MaxTokenLen is the longest token Verify looks at; anything longer is
// rejected without decoding.
const MaxTokenLen = 256

// Keyring signs and verifies tokens. The first key signs; every key
// verifies. A Keyring is immutable and safe for concurrent use.
type Keyring struct {
	keys [][]byte
}

// ErrNoKeys is returned by NewKeyring without keys.
var ErrNoKeys = errors.New("session: no keys")

// ErrShortKey is returned for a key shorter than MinKeyLen.
var ErrShortKey = fmt.Errorf("session: keys must be at least %d bytes", MinKeyLen)

// ErrWeakKey is wrapped by ParseKeyFile's error for a key that is one byte
// repeated (all zeros, say): a placeholder, not a secret.
var ErrWeakKey = errors.New("session: weak key")

// ErrInsecureKeyFile is wrapped by LoadOrCreateKeyFile's error for a key
// file that group or others may read or write.
var ErrInsecureKeyFile = errors.New("session: key file accessible by group or others")

// NewKeyring returns a Keyring over keys; keys[0] signs. The keys are copied.
func NewKeyring(keys ...[]byte) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, ErrNoKeys
	}
	k := &Keyring{}
	for _, key := range keys {
		if len(key) < MinKeyLen {
			return nil, ErrShortKey
		}
		k.keys = append(k.keys, bytes.Clone(key))
	}
	return k, nil
}

// tokenVersion prefixes the MAC input so a token format change can never
// verify under an old format.
const tokenVersion = "jetsse-session-v1\x00"

var enc = base64.RawURLEncoding

// Sign returns the token for id: the ID and its HMAC-SHA256 under the newest
// key, in unpadded base64url (64 characters). Tokens are opaque to clients.
func (k *Keyring) Sign(id ID) string {
	buf := make([]byte, 0, IDLen+sha256.Size)
	buf = append(buf, id[:]...)
	buf = append(buf, mac(k.keys[0], id)...)
	return enc.EncodeToString(buf)
}

// ErrInvalidToken is returned by Verify for a token that is malformed or
// does not verify under any key. It never says which.
var ErrInvalidToken = errors.New("session: invalid token")

// Verify returns the session ID a token carries if its MAC verifies under
// any key of the ring. It runs in constant time for tokens of the expected
// length.
func (k *Keyring) Verify(token string) (ID, error) {
	if len(token) != enc.EncodedLen(IDLen+sha256.Size) {
		return ID{}, ErrInvalidToken
	}
	raw, err := enc.DecodeString(token)
	if err != nil || len(raw) != IDLen+sha256.Size {
		return ID{}, ErrInvalidToken
	}
	var id ID
	copy(id[:], raw[:IDLen])
	ok := 0
	for _, key := range k.keys {
		ok |= boolInt(hmac.Equal(raw[IDLen:], mac(key, id)))
	}
	if ok == 0 {
		return ID{}, ErrInvalidToken
	}
	return id, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func mac(key []byte, id ID) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(tokenVersion))
	h.Write(id[:])
	return h.Sum(nil)
}

// ParseKeyFile parses a key file: one standard-base64 key per line (at least
// MinKeyLen bytes decoded, and not one byte repeated: ErrWeakKey); blank
// lines and lines starting with '#' are ignored. The first key signs.
func ParseKeyFile(r io.Reader) (*Keyring, error) {
	var keys [][]byte
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		key, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("session: key file line %d: not base64: %w", line, err)
		}
		if len(key) < MinKeyLen {
			return nil, fmt.Errorf("session: key file line %d: %w", line, ErrShortKey)
		}
		if bytes.Count(key, key[:1]) == len(key) {
			return nil, fmt.Errorf("session: key file line %d: %w: one byte repeated is a placeholder, not a secret (make a key with: jetsse keygen)", line, ErrWeakKey)
		}
		keys = append(keys, key)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("session: reading key file: %w", err)
	}
	return NewKeyring(keys...)
}

// LoadOrCreateKeyFile reads the key file at path (ParseKeyFile's format).
// If the file does not exist and create is true, it first writes a new file
// with one random 32-byte key (mode 0600), atomically, so a crash never
// leaves a partial key file. A file that group or others may read or write
// is refused (ErrInsecureKeyFile, naming the file and the chmod that fixes
// it); only the file's own mode counts (a symbolic link's target's), not
// its directory's.
func LoadOrCreateKeyFile(path string, create bool, random io.Reader) (*Keyring, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) && create {
		if err := writeNewKeyFile(path, random); err != nil {
			return nil, err
		}
		f, err = os.Open(path)
	}
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("session: key file %s is not a regular file", path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %04o; run: chmod 600 %s", ErrInsecureKeyFile, path, perm, path)
	}
	k, err := ParseKeyFile(f)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return k, nil
}

func writeNewKeyFile(path string, random io.Reader) error {
	key := make([]byte, MinKeyLen)
	if _, err := io.ReadFull(random, key); err != nil {
		return fmt.Errorf("session: generating key: %w", err)
	}
	content := "# jetsse session keys: one base64 key per line; the first signs, all verify.\n" +
		base64.StdEncoding.EncodeToString(key) + "\n"
	return atomicfile.Write(path, []byte(content), 0o600)
}

// NewRandomKey returns base64 of a new random key of MinKeyLen bytes, for
// writing to a key file by hand.
func NewRandomKey() (string, error) {
	key := make([]byte, MinKeyLen)
	if _, err := rand.Read(key); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(key), nil
}

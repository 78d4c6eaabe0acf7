package session_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jetsse/jetsse/pkg/session"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, session.MinKeyLen) }

// fileKey is a key a key file accepts (not one byte repeated).
func fileKey(b byte) []byte {
	k := key(b)
	k[0] ^= 0xff
	return k
}

func TestSignVerifyRoundTrip(t *testing.T) {
	ring, err := session.NewKeyring(key(1))
	if err != nil {
		t.Fatal(err)
	}
	id, err := session.NewID(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tok := ring.Sign(id)
	if len(tok) != 64 {
		t.Fatalf("token length %d, want 64", len(tok))
	}
	got, err := ring.Verify(tok)
	if err != nil || got != id {
		t.Fatalf("Verify = %v, %v; want %v", got, err, id)
	}
	if strings.Contains(tok, id.String()) {
		t.Fatalf("token embeds the hex ID")
	}
}

func TestVerifyRejectsTampering(t *testing.T) {
	ring, _ := session.NewKeyring(key(1))
	id, _ := session.NewID(rand.Reader)
	tok := ring.Sign(id)
	raw, _ := base64.RawURLEncoding.DecodeString(tok)
	for bit := 0; bit < len(raw)*8; bit++ {
		flipped := bytes.Clone(raw)
		flipped[bit/8] ^= 1 << (bit % 8)
		if _, err := ring.Verify(base64.RawURLEncoding.EncodeToString(flipped)); !errors.Is(err, session.ErrInvalidToken) {
			t.Fatalf("bit %d flipped: err = %v, want ErrInvalidToken", bit, err)
		}
	}
	bad := []string{"", "x", tok[:len(tok)-1], tok + "A", strings.Repeat("A", 64), tok[:63] + "!",
		strings.Repeat("A", 10000)}
	if std := base64.StdEncoding.EncodeToString(raw); std != tok {
		bad = append(bad, std) // "+" and "/" are not in the token alphabet
	}
	for _, b := range bad {
		if _, err := ring.Verify(b); !errors.Is(err, session.ErrInvalidToken) {
			t.Errorf("Verify(%.20q…) err = %v, want ErrInvalidToken", b, err)
		}
	}
	other, _ := session.NewKeyring(key(2))
	if _, err := other.Verify(tok); !errors.Is(err, session.ErrInvalidToken) {
		t.Fatalf("token verified under another key")
	}
}

func TestKeyRotation(t *testing.T) {
	old, _ := session.NewKeyring(key(1))
	rotated, _ := session.NewKeyring(key(2), key(1))
	retired, _ := session.NewKeyring(key(2))
	id, _ := session.NewID(rand.Reader)

	oldTok := old.Sign(id)
	if got, err := rotated.Verify(oldTok); err != nil || got != id {
		t.Fatalf("rotated ring rejects a token of the previous key: %v", err)
	}
	newTok := rotated.Sign(id)
	if newTok == oldTok {
		t.Fatalf("rotated ring still signs with the old key")
	}
	if _, err := old.Verify(newTok); err == nil {
		t.Fatalf("old ring accepts a token of the new key")
	}
	if _, err := retired.Verify(oldTok); !errors.Is(err, session.ErrInvalidToken) {
		t.Fatalf("a retired key still verifies")
	}
}

func TestIDs(t *testing.T) {
	seen := map[session.ID]bool{}
	for range 1000 {
		id, err := session.NewID(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if seen[id] {
			t.Fatalf("duplicate ID")
		}
		seen[id] = true
		back, err := session.ParseID(id.String())
		if err != nil || back != id {
			t.Fatalf("ParseID(String()) = %v, %v", back, err)
		}
	}
	for _, s := range []string{"", "00", strings.Repeat("g", 32), strings.Repeat("A", 32), strings.Repeat("0", 33)} {
		if _, err := session.ParseID(s); !errors.Is(err, session.ErrInvalidID) {
			t.Errorf("ParseID(%q) err = %v", s, err)
		}
	}
}

func TestKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "session.key")
	ring, err := session.LoadOrCreateKeyFile(path, true, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", st.Mode().Perm())
	}
	again, err := session.LoadOrCreateKeyFile(path, true, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := session.NewID(rand.Reader)
	if _, err := again.Verify(ring.Sign(id)); err != nil {
		t.Fatalf("reloaded key file does not verify tokens of the first load: %v", err)
	}
	if _, err := session.LoadOrCreateKeyFile(filepath.Join(dir, "missing"), false, rand.Reader); err == nil {
		t.Fatalf("missing key file without create: no error")
	}

	k1, k2 := base64.StdEncoding.EncodeToString(fileKey(7)), base64.StdEncoding.EncodeToString(fileKey(8))
	multi, err := session.ParseKeyFile(strings.NewReader("# comment\n\n" + k1 + "\n  " + k2 + "  \n"))
	if err != nil {
		t.Fatal(err)
	}
	only2, _ := session.NewKeyring(fileKey(8))
	only1, _ := session.NewKeyring(fileKey(7))
	if _, err := multi.Verify(only2.Sign(id)); err != nil {
		t.Fatalf("second key does not verify")
	}
	if _, err := only1.Verify(multi.Sign(id)); err != nil {
		t.Fatalf("first key does not sign")
	}
	for _, bad := range []string{"", "# only comments\n", "not base64!\n", base64.StdEncoding.EncodeToString([]byte("short")) + "\n"} {
		if _, err := session.ParseKeyFile(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseKeyFile(%q): no error", bad)
		}
	}
}

// TestKeyFileRefusesPlaceholders: a key of one repeated byte (all zeros, a
// run of "A" in base64) is refused wherever it stands in the file.
func TestKeyFileRefusesPlaceholders(t *testing.T) {
	good := base64.StdEncoding.EncodeToString(fileKey(1))
	for _, weak := range [][]byte{make([]byte, session.MinKeyLen), key(0xff), bytes.Repeat([]byte{'k'}, 64)} {
		w := base64.StdEncoding.EncodeToString(weak)
		for _, content := range []string{w + "\n", good + "\n" + w + "\n"} {
			if _, err := session.ParseKeyFile(strings.NewReader(content)); !errors.Is(err, session.ErrWeakKey) {
				t.Errorf("ParseKeyFile(%q) err = %v, want ErrWeakKey", content, err)
			}
		}
	}
}

// TestKeyFileRefusesAReadableFile: a key file group or others may read or
// write is refused, naming the file and the fix; its directory's mode does
// not matter, and a symbolic link counts by its target.
func TestKeyFileRefusesAReadableFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "session.key")
	content := []byte(base64.StdEncoding.EncodeToString(fileKey(3)) + "\n")
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := session.LoadOrCreateKeyFile(path, false, rand.Reader); err != nil {
		t.Fatalf("a 0600 file in a 0755 directory: %v", err)
	}
	link := filepath.Join(dir, "link.key")
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	if _, err := session.LoadOrCreateKeyFile(link, false, rand.Reader); err != nil {
		t.Fatalf("a link to a 0600 file: %v", err)
	}
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660, 0o602} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{path, link} {
			_, err := session.LoadOrCreateKeyFile(p, true, rand.Reader)
			if !errors.Is(err, session.ErrInsecureKeyFile) || !strings.Contains(err.Error(), "chmod 600 "+p) {
				t.Errorf("mode %04o via %s: err = %v, want ErrInsecureKeyFile saying chmod 600 %s", mode, p, err, p)
			}
		}
	}
	if err := os.Chmod(path, 0o400); err != nil {
		t.Fatal(err)
	}
	if _, err := session.LoadOrCreateKeyFile(path, false, rand.Reader); err != nil {
		t.Fatalf("a 0400 file: %v", err)
	}
}

// FuzzVerify: no input crashes Verify, and only tokens that Sign produced
// verify.
func FuzzVerify(f *testing.F) {
	ring, _ := session.NewKeyring(key(3))
	id, _ := session.NewID(rand.Reader)
	valid := ring.Sign(id)
	f.Add(valid)
	f.Add("")
	f.Add(valid[:40])
	f.Add(strings.ToUpper(valid))
	f.Fuzz(func(t *testing.T, tok string) {
		got, err := ring.Verify(tok)
		if err != nil {
			if !errors.Is(err, session.ErrInvalidToken) {
				t.Fatalf("unexpected error type %v", err)
			}
			return
		}
		if ring.Sign(got) != tok {
			t.Fatalf("Verify accepted %q, which Sign never produces for %v", tok, got)
		}
	})
}

// FuzzSignVerify: every ID round-trips through its token.
func FuzzSignVerify(f *testing.F) {
	f.Add(make([]byte, session.IDLen))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) != session.IDLen {
			return
		}
		ring, _ := session.NewKeyring(key(4))
		var id session.ID
		copy(id[:], b)
		got, err := ring.Verify(ring.Sign(id))
		if err != nil || got != id {
			t.Fatalf("round trip: %v, %v", got, err)
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	ring, _ := session.NewKeyring(key(5), key(6))
	id, _ := session.NewID(rand.Reader)
	tok := ring.Sign(id)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ring.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}

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

	k1, k2 := base64.StdEncoding.EncodeToString(key(7)), base64.StdEncoding.EncodeToString(key(8))
	multi, err := session.ParseKeyFile(strings.NewReader("# comment\n\n" + k1 + "\n  " + k2 + "  \n"))
	if err != nil {
		t.Fatal(err)
	}
	only2, _ := session.NewKeyring(key(8))
	only1, _ := session.NewKeyring(key(7))
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

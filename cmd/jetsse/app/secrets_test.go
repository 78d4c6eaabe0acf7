package app

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jetsse/jetsse/pkg/auth"
)

// TestLoadToken: a given token must be 16 bytes at least; a missing one
// is generated into a 0600 file and read back from it; a file others may
// read, or one holding a short token, refuses the start.
func TestLoadToken(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "admin.token")
	for _, short := range []string{"x", "0123456789abcde"} {
		if _, _, err := loadToken(bearerToken{flag: "admin-token", value: short, file: file}); err == nil || !strings.Contains(err.Error(), "--admin-token") {
			t.Errorf("a %d-byte --admin-token: %v", len(short), err)
		}
	}
	if tok, gen, err := loadToken(bearerToken{flag: "admin-token", value: "0123456789abcdef", file: file}); err != nil || gen || tok != "0123456789abcdef" {
		t.Errorf("a 16-byte --admin-token: %q %v %v", tok, gen, err)
	}
	if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a given token was written to a file: %v", err)
	}

	tok, gen, err := loadToken(bearerToken{flag: "admin-token", file: file})
	if err != nil || !gen || len(tok) < minTokenLen {
		t.Fatalf("generated: %q %v %v", tok, gen, err)
	}
	if st, err := os.Stat(file); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("generated file: %v %v", st, err)
	}
	if again, gen, err := loadToken(bearerToken{flag: "admin-token", file: file}); err != nil || gen || again != tok {
		t.Fatalf("read back: %q %v %v, want %q", again, gen, err, tok)
	}

	if err := os.Chmod(file, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := loadToken(bearerToken{flag: "admin-token", file: file}); !errors.Is(err, auth.ErrInsecureKeyFile) || !strings.Contains(err.Error(), "chmod 600 "+file) {
		t.Errorf("a 0644 token file: %v", err)
	}
	if err := os.WriteFile(file, []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(file, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := loadToken(bearerToken{flag: "admin-token", file: file}); err == nil || !strings.Contains(err.Error(), "at least 16") {
		t.Errorf("a 5-byte token file: %v", err)
	}
}

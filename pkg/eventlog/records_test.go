package eventlog

import (
	"bytes"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestRecordFormat: records round-trip, subjects of any text included, the
// claim reads without decoding, and records of the first format still
// decode.
func TestRecordFormat(t *testing.T) {
	created := time.UnixMilli(1700000000123)
	for _, r := range []Record{
		{Claim: "n1/7", Position: 42, Created: created, Reconnects: 3, Subject: "user 4711 ✓", Topics: []string{"a.*", "b c"}},
		{Position: 0, Created: created, Topics: []string{">"}},
	} {
		b := r.encode()
		got, err := decodeRecord(b)
		if err != nil || !reflect.DeepEqual(got, r) {
			t.Fatalf("%q decoded to %+v (%v), want %+v", b, got, err, r)
		}
		if c := claimOf(b); c != r.Claim {
			t.Fatalf("claim of %q: %q", b, c)
		}
	}
	// The largest record fits the bound the session bucket enforces, and
	// wildcards are not escaped.
	long := make([]string, 32)
	for i := range long {
		long[i] = strings.Repeat(`"`, 250) + fmt.Sprintf(".%03d.>", i)
	}
	big := Record{Claim: strings.Repeat("n", 80) + "/18446744073709551615", Position: math.MaxUint64, Created: created,
		Reconnects: math.MaxUint64, Subject: strings.Repeat("\u00ff", 128), Topics: long}
	if n, max := len(big.encode()), MaxRecordSize(32, 256); n > max {
		t.Fatalf("the largest record is %d bytes, over MaxRecordSize %d", n, max)
	}
	if b := (Record{Topics: []string{"users.>"}}).encode(); !bytes.HasSuffix(b, []byte(`["users.>"]`)) {
		t.Fatalf("topics escaped: %q", b)
	}
	v1 := []byte(`v1 n1/2 9 1700000000123 ["t"]`)
	got, err := decodeRecord(v1)
	if err != nil || got.Claim != "n1/2" || got.Position != 9 || !got.Created.Equal(created) || got.Subject != "" || got.Topics[0] != "t" {
		t.Fatalf("v1 record decoded to %+v (%v)", got, err)
	}
	if claimOf(v1) != "n1/2" {
		t.Fatal("claim of a v1 record")
	}
	for _, bad := range []string{"", "v3 - 1 2 3 - []", "v2 - x 1 0 - []", "v2 - 1 2 0 !!! []", "v2 - 1 2 0 - not-json", "v1 - 1 2"} {
		if _, err := decodeRecord([]byte(bad)); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}
}

package eventlog

import (
	"reflect"
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

package httptransport

import (
	"bytes"
	"encoding/json"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// The JSON the API speaks is the protojson form of proto/jetsse/v1 with
// proto field names ("last_event_id") and every field present.
var (
	wireMarshal   = protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}
	wireUnmarshal = protojson.UnmarshalOptions{} // unknown fields are errors
)

// appendWire appends m's JSON to dst. protojson varies its whitespace on
// purpose; compacting gives clients the same bytes every time.
func appendWire(dst []byte, m proto.Message) []byte {
	b, err := wireMarshal.Marshal(m)
	if err != nil {
		// Only invalid UTF-8 fails, and every string here was validated
		// or generated; keep the frame well-formed regardless.
		b = []byte("{}")
	}
	var out bytes.Buffer
	out.Grow(len(b))
	if json.Compact(&out, b) != nil {
		return append(dst, b...)
	}
	return append(dst, out.Bytes()...)
}

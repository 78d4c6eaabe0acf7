package bench

import "bytes"

// jsonUint finds pattern (`"key":`) in a JSON payload, at any depth so it
// also works inside a peer's envelope, and returns the number after it.
// It does not allocate: it runs for every delivered event.
func jsonUint(data []byte, pattern string) (uint64, bool) {
	i := bytes.Index(data, []byte(pattern))
	if i < 0 {
		return 0, false
	}
	j := i + len(pattern)
	for j < len(data) && data[j] == ' ' {
		j++
	}
	k := j
	for k < len(data) && data[k] >= '0' && data[k] <= '9' {
		k++
	}
	return parseDecimal(data[j:k])
}

// PayloadTime returns the publisher's send time (unix nanos) carried by an
// event's data: the "t" member of a JSON object, or the whole payload as a
// decimal.
func PayloadTime(data []byte) (int64, bool) {
	if v, ok := parseDecimal(data); ok {
		return int64(v), true
	}
	v, ok := jsonUint(data, `"t":`)
	return int64(v), ok
}

// PayloadCounter returns the publisher's counter, the "n" member of the
// event's data.
func PayloadCounter(data []byte) (uint64, bool) {
	return jsonUint(data, `"n":`)
}

// forEachPayload calls fn with the send time and counter of every payload
// ({"t":T,"n":N...}) in data, in order: one for an event that is a payload
// or wraps one, several for a frame that batches them. It does not
// allocate.
func forEachPayload(data []byte, fn func(t int64, n uint64)) {
	for {
		i := bytes.Index(data, []byte(`"t":`))
		if i < 0 {
			return
		}
		data = data[i+len(`"t":`):]
		t, ok := leadingUint(data)
		if !ok {
			continue
		}
		j := bytes.Index(data, []byte(`"n":`))
		if j < 0 {
			return
		}
		data = data[j+len(`"n":`):]
		if n, ok := leadingUint(data); ok {
			fn(int64(t), n)
		}
	}
}

// leadingUint parses the decimal number at the start of b (after spaces).
func leadingUint(b []byte) (uint64, bool) {
	j := 0
	for j < len(b) && b[j] == ' ' {
		j++
	}
	k := j
	for k < len(b) && b[k] >= '0' && b[k] <= '9' {
		k++
	}
	return parseDecimal(b[j:k])
}

// lastJSONValue returns the value of the last member named key in a JSON
// text, at any depth: a string's contents (escapes are not decoded) or a
// number, true, false or null as written. It does not allocate.
func lastJSONValue(data []byte, key string) ([]byte, bool) {
	// Search for "key": without building the pattern.
	rest := data
	var found []byte
	for {
		i := bytes.Index(rest, []byte(key))
		if i < 0 {
			break
		}
		after := rest[i+len(key):]
		if i > 0 && rest[i-1] == '"' && len(after) > 1 && after[0] == '"' && after[1] == ':' {
			found = after[2:]
		}
		rest = after
	}
	if found == nil {
		return nil, false
	}
	for len(found) > 0 && found[0] == ' ' {
		found = found[1:]
	}
	if len(found) > 0 && found[0] == '"' {
		end := bytes.IndexByte(found[1:], '"')
		if end < 0 {
			return nil, false
		}
		return found[1 : 1+end], true
	}
	end := bytes.IndexAny(found, ",}] \t\r\n")
	if end < 0 {
		end = len(found)
	}
	if end == 0 {
		return nil, false
	}
	return found[:end], true
}

// AppendPayload appends the payload the publishers send: {"t":T,"n":N},
// padded with a "p" member to at least size bytes.
func AppendPayload(dst []byte, t int64, n uint64, size int) []byte {
	start := len(dst)
	dst = append(dst, `{"t":`...)
	dst = appendUint(dst, uint64(t))
	dst = append(dst, `,"n":`...)
	dst = appendUint(dst, n)
	if pad := size - (len(dst) - start) - len(`,"p":""}`); pad > 0 {
		dst = append(dst, `,"p":"`...)
		for range pad {
			dst = append(dst, 'x')
		}
		dst = append(dst, '"')
	}
	return append(dst, '}')
}

func appendUint(dst []byte, v uint64) []byte {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return append(dst, b[i:]...)
}

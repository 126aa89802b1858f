package oneshot

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
)

// redacted is how Sensitive prints.
const redacted = "[redacted]"

// Sensitive is the content of a secret or config made for one job. It
// never shows itself: fmt (every verb, %v, %+v, %#v, %s, %x...),
// encoding/json, encoding.TextMarshaler and log/slog all print
// "[redacted]". Bytes gives it back. The zero value is empty.
type Sensitive struct {
	// b is behind a pointer: where fmt cannot call Format (an unexported
	// field of the caller's), it prints an address, never the bytes.
	b *[]byte
}

// NewSensitive holds a copy of data.
func NewSensitive(data []byte) Sensitive {
	c := bytes.Clone(data)
	return Sensitive{b: &c}
}

// Len is the length of the content, in bytes.
func (s Sensitive) Len() int {
	if s.b == nil {
		return 0
	}
	return len(*s.b)
}

// Bytes returns a copy of the content.
func (s Sensitive) Bytes() []byte {
	if s.b == nil {
		return nil
	}
	return bytes.Clone(*s.b)
}

// String returns "[redacted]".
func (Sensitive) String() string { return redacted }

// GoString returns "[redacted]", for %#v.
func (Sensitive) GoString() string { return redacted }

// Format writes "[redacted]" whatever the verb and flags.
func (Sensitive) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redacted) }

// MarshalJSON returns the JSON string "[redacted]".
func (Sensitive) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText returns "[redacted]".
func (Sensitive) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// LogValue is "[redacted]", for log/slog.
func (Sensitive) LogValue() slog.Value { return slog.StringValue(redacted) }

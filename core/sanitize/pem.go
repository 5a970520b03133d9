package sanitize

import "strings"

// Private keys in PEM form: "-----BEGIN [RSA |EC |OPENSSH |ENCRYPTED ]PRIVATE KEY-----",
// base64 lines, "-----END ...-----". Within one line, maskPEM masks what lies between
// the two markers (or to the end of the line); a block that arrives line by line is
// masked by a Stream.
const (
	pemBegin = "-----BEGIN "
	pemEnd   = "-----END"
	// maxKeyLines bounds a Stream's block: an 8192-bit RSA key is about 100 lines.
	maxKeyLines = 400
)

// keyHeader returns the end of a private-key BEGIN marker starting at i, or -1.
func keyHeader(s string, i int) int {
	j := i + len(pemBegin)
	for j < len(s) && j-i < 64 && (s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9' || s[j] == ' ') {
		j++
	}
	label := s[i+len(pemBegin) : j]
	if !strings.HasSuffix(label, "PRIVATE KEY") && !strings.HasSuffix(label, "PRIVATE KEY BLOCK") {
		return -1
	}
	if !strings.HasPrefix(s[j:], "-----") {
		return -1
	}
	return j + 5
}

// maskPEM masks key material after each private-key BEGIN marker of s, up to its END
// marker or the end of the line. open: the last block is not closed in s.
func maskPEM(s string) (out string, open bool) {
	if !strings.Contains(s, pemBegin) {
		return s, false
	}
	e := editor{s: s}
	for i := 0; i < len(s); {
		b := strings.Index(s[i:], pemBegin)
		if b < 0 {
			break
		}
		b += i
		h := keyHeader(s, b)
		if h < 0 {
			i = b + len(pemBegin)
			continue
		}
		end := strings.Index(s[h:], pemEnd)
		if end < 0 {
			if h < len(s) && s[h:] != Mask && strings.TrimSpace(s[h:]) != "" {
				e.replace(h, len(s))
			}
			return e.result(), true
		}
		end += h
		if body := s[h:end]; strings.TrimSpace(body) != "" && body != Mask {
			e.replace(h, end)
		}
		i = end + len(pemEnd)
	}
	return e.result(), false
}

// keyBodyLine: a line that can stand inside a PEM block — base64, or a header such as
// "Proc-Type: 4,ENCRYPTED" — after optional spaces.
func keyBodyLine(s string) bool {
	s = strings.TrimSpace(s)
	if c := strings.IndexByte(s, ':'); c > 0 && strings.Trim(s[:c], "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-") == "" {
		return true
	}
	for i := 0; i < len(s); i++ {
		if !isB64(s[i]) && s[i] != '=' {
			return false
		}
	}
	return true
}

// Stream sanitises the lines of one stream (a command's stdout, one container's log)
// in their order. It is Line plus one bit of state, so that a private key printed
// line by line is masked whole: every line from a BEGIN ... PRIVATE KEY marker to its
// END marker becomes Mask. A line that cannot belong to a key (or the 400th) ends the
// block early. The zero Stream is ready; a Stream is for one goroutine. Its fields
// are exported so that a collector can keep them with its checkpoint.
type Stream struct {
	InKey    bool `json:"in_key,omitempty"`
	KeyLines int  `json:"key_lines,omitempty"`
	// Prefix is where the key began on its BEGIN line (0: at the start): a logger that
	// writes a prefix (a time, a level) before every line puts the key's lines there.
	Prefix int `json:"prefix,omitempty"`
}

// Line sanitises the next line of the stream.
func (st *Stream) Line(s string) string {
	s = clean(s)
	if st.InKey {
		pre, body := st.split(s)
		if end := strings.Index(s, pemEnd); end >= 0 {
			// What stands before the END marker is key material, or the prefix.
			if st.Prefix == 0 && strings.TrimSpace(s[:end]) != "" {
				s = Mask + s[end:]
			}
			st.InKey, st.KeyLines, st.Prefix = false, 0, 0
		} else if st.KeyLines < maxKeyLines && keyBodyLine(s) {
			st.KeyLines++
			return Mask
		} else if st.KeyLines < maxKeyLines && pre != "" && prefixedKeyLine(body) {
			st.KeyLines++
			return finish(mask(pre)) + Mask
		} else {
			st.InKey, st.KeyLines, st.Prefix = false, 0, 0
		}
	}
	out, open := maskPEM(s)
	st.InKey, st.Prefix = open, 0
	if open {
		st.Prefix = strings.LastIndex(s, pemBegin)
	}
	return finish(mask(out))
}

// split is a line of a key begun after a prefix: the prefix and the rest. The rest
// starts where the BEGIN marker did, after the same number of bytes (a fixed-width
// prefix), else after the line's last space (a prefix whose width varies). No prefix:
// the whole line is the rest.
func (st *Stream) split(s string) (pre, body string) {
	if st.Prefix <= 0 {
		return "", s
	}
	if p := st.Prefix; p < len(s) && (isSpace(s[p-1]) || s[p-1] == ':' || s[p-1] == '|') && prefixedKeyLine(s[p:]) {
		return s[:p], s[p:]
	}
	if p := strings.LastIndexAny(s, " \t") + 1; p > 0 && p < len(s) {
		return s[:p], s[p:]
	}
	return "", s
}

// prefixedKeyLine: after a log prefix, a line of key material — base64 of at least 4
// characters that a word is not (a digit, '+', '/', '=', or a capital past the first
// byte), or the END marker's line. Stricter than keyBodyLine: a prefixed line of prose
// ("INFO uploading") ends the block.
func prefixedKeyLine(s string) bool {
	s = strings.TrimSpace(s)
	if len(s) < 4 || !keyBodyLine(s) || strings.IndexByte(s, ':') >= 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=' || i > 0 && c >= 'A' && c <= 'Z' {
			return true
		}
	}
	return false
}

package sanitize

import (
	"net/url"
	"strings"

	"github.com/blastlog/blastlog/core/fold"
)

// Mask replaces every secret value.
const Mask = "***"

// mask applies each rule in turn. Each rule looks for a cheap trigger first (a byte or
// a short substring), so a plain line costs a few linear scans and no allocation.
func mask(s string) string {
	// The rules first, on the line as written: what they mask (a SAS query, a key's
	// value) is gone before encoded text is looked into, which cannot then take a
	// key's name for a value.
	return maskPercentEncoded(maskDecoded(s))
}

// maskDecoded is mask without looking into percent-encoded text.
func maskDecoded(s string) string {
	s, _ = maskPEM(s)
	s = maskSASQuery(s)
	s = maskKeyValues(s)
	s = maskBearer(s)
	s = maskFlags(s)
	s = maskPasswordFlags(s)
	s = maskPrefixedTokens(s)
	s = maskJWT(s)
	s = maskAWSKeys(s)
	s = maskURLPasswords(s)
	s = maskPATs(s)
	return maskBase64(s)
}

// maskPercentEncoded masks secrets inside percent-encoded text — a URL or a form
// nested in a URL's query: each query value (or token) that holds an escape or a '+' is
// decoded, masked by the other rules, and, when that masked something, written back
// encoded with the mask readable. Values the rules leave alone stay as written.
func maskPercentEncoded(s string) string {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s
	}
	e := editor{s: s}
	for i := 0; i < len(s); {
		if isSpace(s[i]) || strings.IndexByte("\"'<>`", s[i]) >= 0 {
			i++
			continue
		}
		// A value: after '=', up to '&', a space or a quote.
		start := i
		for i < len(s) && !isSpace(s[i]) && strings.IndexByte("\"'<>`&?=", s[i]) < 0 {
			i++
		}
		if v := s[start:i]; hasEscape(v) || strings.IndexByte(v, '+') >= 0 {
			if dec, err := url.QueryUnescape(v); err == nil {
				if m := maskDecoded(dec); m != dec {
					e.write(start, i, strings.ReplaceAll(url.QueryEscape(m), "%2A%2A%2A", Mask))
				}
			}
		}
		if i < len(s) && strings.IndexByte("&?=", s[i]) >= 0 {
			i++
		}
	}
	return e.result()
}

// hasEscape: v holds a percent escape (%XX).
func hasEscape(v string) bool {
	for i := strings.IndexByte(v, '%'); i >= 0 && i+2 < len(v); {
		if isHex(v[i+1]) && isHex(v[i+2]) {
			return true
		}
		j := strings.IndexByte(v[i+1:], '%')
		if j < 0 {
			return false
		}
		i += 1 + j
	}
	return false
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// editor rebuilds a string from kept spans and masks; it allocates on the first edit.
type editor struct {
	s    string
	b    []byte
	done int // s[:done] has been copied or replaced
}

func (e *editor) replace(from, to int) { e.write(from, to, Mask) }

// write replaces s[from:to] with text.
func (e *editor) write(from, to int, text string) {
	if e.b == nil {
		e.b = make([]byte, 0, len(e.s))
	}
	e.b = append(e.b, e.s[e.done:from]...)
	e.b = append(e.b, text...)
	e.done = to
}

// mask replaces s[from:to] unless it is empty or already the mask.
func (e *editor) mask(from, to int) {
	if to > from && e.s[from:to] != Mask {
		e.replace(from, to)
	}
}

func (e *editor) result() string {
	if e.b == nil {
		return e.s
	}
	return string(append(e.b, e.s[e.done:]...))
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' }

// skipSpaces returns the first index from i that is not a space or a tab.
func skipSpaces(s string, i int) int {
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	return i
}

// quotedAt: s[v] opens a quote; the quoted text is s[start:end], end at the closing
// quote or the end of s.
func quotedAt(s string, v int) (start, end int, ok bool) {
	if v+1 < len(s) && s[v] == '\\' && s[v+1] == '"' {
		// A JSON-escaped quote (a JSON document inside a JSON string): to the next one.
		if e := strings.Index(s[v+2:], `\"`); e >= 0 {
			return v + 2, v + 2 + e, true
		}
		return v + 2, len(s), true
	}
	if v >= len(s) || s[v] != '"' && s[v] != '\'' {
		return 0, 0, false
	}
	end = v + 1
	for end < len(s) && s[end] != s[v] {
		end++
	}
	return v + 1, end, true
}

// tokenEnd returns the end of a run of non-space, non-quote bytes starting at i.
func tokenEnd(s string, i int) int {
	for i < len(s) && !isSpace(s[i]) && s[i] != '"' && s[i] != '\'' && s[i] != '`' && s[i] != '<' && s[i] != '>' {
		i++
	}
	return i
}

// maskSASQuery masks the whole query string of a URL that carries a SAS signature:
// https://acct.blob.core.windows.net/c/b?sv=...&sig=... -> https://acct.../c/b?***.
// The query is found as written and as the encoders around it write it: JSON-escaped
// (`\u0026sig=`, `\u003f`) and percent-encoded inside another URL (`%3F…%26sig%3D`).
func maskSASQuery(s string) string {
	if !strings.Contains(s, "sig") { // written in lower case in every form
		return s
	}
	e := editor{s: s}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != '?' && c != '\\' && c != '%' {
			continue // no mark starts here
		}
		n := marker(s, i, queryMarks)
		if n == 0 {
			continue
		}
		end := tokenEnd(s, i+n)
		if hasSig(s[i+n : end]) {
			e.replace(i+n, end)
		}
		i = end - 1
	}
	return e.result()
}

// The ways a query's '?', a parameter's '&' and a value's '=' are written: as they are,
// JSON-escaped, percent-encoded (lower case: markers match in any ASCII case).
var (
	queryMarks = []string{"?", `\u003f`, "%3f"}
	sepMarks   = []string{"&", `\u0026`, "%26"}
	eqMarks    = []string{"=", `\u003d`, "%3d"}
)

// marker is the length of the mark of marks that s holds at i (any ASCII case), 0 when
// none does.
func marker(s string, i int, marks []string) int {
	for _, m := range marks {
		if len(s)-i >= len(m) && s[i] == m[0] && fold.Index(s[i:i+len(m)], m) == 0 {
			return len(m)
		}
	}
	return 0
}

// hasSig: the query q holds a sig parameter — "sig" at its start or after a separator,
// followed by an equals sign, each in any of their written forms.
func hasSig(q string) bool {
	for from := 0; ; {
		p := fold.Index(q[from:], "sig")
		if p < 0 {
			return false
		}
		p += from
		from = p + 3
		if marker(q, p+3, eqMarks) == 0 {
			continue
		}
		if p == 0 {
			return true
		}
		for _, m := range sepMarks {
			if p >= len(m) && marker(q, p-len(m), []string{m}) == len(m) {
				return true
			}
		}
	}
}

// Keys whose value is a secret, lower case. A key matches when the identifier before
// '=' equals it or ends with it; short keys must match exactly.
var (
	suffixKeys = []string{"password", "passwd", "secret", "token", "accountkey", "access_key",
		"accesskey", "apikey", "api_key", "sharedaccesskey", "sharedaccesssignature", "credential"}
	exactKeys = []string{"sig", "pwd", "signature"}
)

// connStringKey starts an Azure connection string, which is masked to its end as a
// whole (it holds AccountKey or SharedAccessSignature among ;-separated parts).
const connStringKey = "defaultendpointsprotocol"

func secretKey(ident string) (isKey, wholeConnString bool) {
	if len(ident) < 3 || len(ident) > 64 {
		return false, false
	}
	var buf [64]byte
	l := buf[:len(ident)]
	for i := 0; i < len(ident); i++ {
		c := ident[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		l[i] = c
	}
	low := string(l) // does not escape: the compiler keeps it on the stack
	if low == connStringKey {
		return true, true
	}
	for _, k := range exactKeys {
		if low == k {
			return true, false
		}
	}
	for _, k := range suffixKeys {
		if strings.HasSuffix(low, k) {
			return true, false
		}
	}
	return secretPart(ident), false
}

// secretParts are credential words that name a secret as one part of a longer name:
// DB_PASS, MYSQL_PWD, secret_key, SecretKey, storage_key, x-api-key,
// Ocp-Apim-Subscription-Key. Parts are split at '_', '-', '.' and a lower-to-upper
// case change, and compared in any case.
var secretParts = []string{"pass", "passwd", "passphrase", "password", "pwd", "secret", "key", "token", "credential",
	"credentials"}

func secretPart(ident string) bool {
	start := 0
	for i := 0; i <= len(ident); i++ {
		boundary := i == len(ident) || ident[i] == '_' || ident[i] == '-' || ident[i] == '.' ||
			i > start && ident[i] >= 'A' && ident[i] <= 'Z' && ident[i-1] >= 'a' && ident[i-1] <= 'z'
		if !boundary {
			continue
		}
		if i > start {
			for _, p := range secretParts {
				if strings.EqualFold(ident[start:i], p) {
					return true
				}
			}
		}
		start = i
		if i < len(ident) && (ident[i] == '_' || ident[i] == '-' || ident[i] == '.') {
			start = i + 1
		}
	}
	return false
}

// connStringPart: the key is one of the ;-separated parts of an Azure connection
// string, whose value (base64) ends at the next ';'.
func connStringPart(ident string) bool {
	for _, k := range []string{"accountkey", "sharedaccesskey", "sharedaccesssignature", "accountname", "endpointsuffix"} {
		if strings.EqualFold(ident, k) {
			return true
		}
	}
	return false
}

func isIdent(c byte) bool { return isAlnum(c) || c == '_' || c == '-' || c == '.' }

// maskKeyValues masks values of secret keys: password=..., AccountKey=...;
// "client_secret": "...", token = ..., and whole DefaultEndpointsProtocol=... strings.
func maskKeyValues(s string) string {
	if strings.IndexByte(s, '=') < 0 && !strings.Contains(s, `":`) && !strings.Contains(s, `':`) &&
		!strings.Contains(s, ": ") {
		return s
	}
	e := editor{s: s}
	for i := 0; i < len(s); i++ {
		if s[i] != '=' && s[i] != ':' {
			continue
		}
		kv, ok := keyValueAt(s, i)
		if !ok || kv.key < e.done {
			continue
		}
		v, end, ok := kv.value(s)
		if !ok {
			continue
		}
		e.mask(v, end)
		if end > i {
			i = end - 1
		}
	}
	return e.result()
}

// keyValue is a secret key s[key:keyEnd] before the separator at sep ('=' or ':').
type keyValue struct {
	key, keyEnd, sep int
	quotedKey        bool // "key": or 'key'=
	wholeConnString  bool // DefaultEndpointsProtocol=...: masked to its end
}

// keyValueAt finds the key before the separator s[i] and says whether it names a
// secret: walk back over spaces and at most one closing quote to the identifier.
// "ERROR: token expired" is prose, but "password: x" names a secret: an unquoted key
// before ':' counts only when it is a secret word right before ": ". PWD=/home/... is
// a path, not a password.
func keyValueAt(s string, i int) (keyValue, bool) {
	kv := keyValue{sep: i}
	j := i
	for j > 0 && isSpace(s[j-1]) {
		j--
	}
	if j > 0 && (s[j-1] == '"' || s[j-1] == '\'') {
		kv.quotedKey = true
		j--
		if j > 0 && s[j] == '"' && s[j-1] == '\\' {
			j-- // \"key\": a JSON-escaped quote
		}
	}
	k := j
	for k > 0 && isIdent(s[k-1]) {
		k--
	}
	kv.key, kv.keyEnd = k, j
	isKey, whole := secretKey(s[k:j])
	kv.wholeConnString = whole
	switch {
	case !isKey:
		return kv, false
	case s[i] == ':' && !kv.quotedKey && (i+1 >= len(s) || !isSpace(s[i+1]) || j != i):
		return kv, false
	case strings.EqualFold(s[k:j], "pwd") && i+1 < len(s) && s[i+1] == '/':
		return kv, false
	}
	return kv, true
}

// value is the secret's span s[v:end]: a quoted value, a whole connection string, or
// a run to whitespace. ';' and ',' are common in passwords, so a value does not end
// at them, except where the key is part of a larger string and ends at its
// separator: a connection string's parts at ';', a query parameter at '&'. A quoted
// key before ':' wants a quoted value.
func (kv keyValue) value(s string) (v, end int, ok bool) {
	v = skipSpaces(s, kv.sep+1)
	if v, end, ok := quotedAt(s, v); ok {
		return v, end, true
	}
	switch {
	case s[kv.sep] == ':' && kv.quotedKey:
		return 0, 0, false
	case kv.wholeConnString:
		return v, tokenEnd(s, v), true
	}
	stops := "\"'<>`"
	if connStringPart(s[kv.key:kv.keyEnd]) {
		stops += ";"
	}
	if kv.key > 0 && (s[kv.key-1] == '?' || s[kv.key-1] == '&') {
		stops += "&"
	}
	end = v
	for end < len(s) && !isSpace(s[end]) && strings.IndexByte(stops, s[end]) < 0 {
		end++
	}
	return v, end, true
}

// maskBearer masks the credential after "Bearer " or "Basic " (any case), as in an
// Authorization header.
func maskBearer(s string) string {
	if !strings.Contains(s, "earer") && !strings.Contains(s, "EARER") && !strings.Contains(s, "asic") &&
		!strings.Contains(s, "ASIC") {
		return s
	}
	e := editor{s: s}
	for i := 0; i+5 < len(s); i++ {
		n := 0
		switch {
		case i+6 < len(s) && strings.EqualFold(s[i:i+6], "bearer"):
			n = 6
		case strings.EqualFold(s[i:i+5], "basic"):
			n = 5
		}
		if n == 0 || (i > 0 && isAlnum(s[i-1])) {
			continue
		}
		v := skipSpaces(s, i+n)
		if v == i+n {
			continue
		}
		end := v
		for end < len(s) && (isAlnum(s[end]) || strings.IndexByte("-._~+/=", s[end]) >= 0) {
			end++
		}
		// "basic" is also a word: only a credential-like run (8+ characters with a
		// digit, '+', '/' or '=') follows it in a header.
		if n == 5 && (end-v < 8 || !strings.ContainsAny(s[v:end], "0123456789+/=")) {
			continue
		}
		if end > v {
			e.replace(v, end)
			i = end - 1
		}
	}
	return e.result()
}

func isB64URL(c byte) bool { return isAlnum(c) || c == '-' || c == '_' }

// maskFlags masks the value after a command-line flag named for a secret:
// --password x, --client-secret=x is already a key=value, -p x is not enough.
func maskFlags(s string) string {
	if !strings.Contains(s, "--") {
		return s
	}
	e := editor{s: s}
	for i := 0; i+2 < len(s); i++ {
		if s[i] != '-' || s[i+1] != '-' || (i > 0 && !isSpace(s[i-1])) {
			continue
		}
		k := i + 2
		for k < len(s) && isIdent(s[k]) {
			k++
		}
		if k >= len(s) || !isSpace(s[k]) {
			i = k
			continue
		}
		if isKey, _ := secretKey(s[i+2 : k]); !isKey || strings.EqualFold(s[i+2:k], "pwd") {
			i = k
			continue
		}
		v := skipSpaces(s, k)
		i = max(e.maskFlagValue(v)-1, i)
	}
	return e.result()
}

// maskFlagValue masks a flag's value starting at v (quoted, or a token; not another
// flag) and returns where it ends.
func (e *editor) maskFlagValue(v int) int {
	s := e.s
	qv, end, quoted := quotedAt(s, v)
	if quoted {
		v = qv
	} else {
		end = tokenEnd(s, v)
	}
	if end > v && s[v] != '-' {
		e.mask(v, end)
	}
	return end
}

// maskPasswordFlags masks the -p password of the tools that take one that way: mysql
// and its kin glued to the flag (-pSECRET), sshpass and az login after it (-p SECRET).
// Elsewhere -p is too common a flag to mean a password.
func maskPasswordFlags(s string) string {
	if !strings.Contains(s, " -p") {
		return s
	}
	glued := strings.Contains(s, "mysql") || strings.Contains(s, "mariadb")
	spaced := strings.Contains(s, "sshpass") || strings.Contains(s, "az login")
	if !glued && !spaced {
		return s
	}
	e := editor{s: s}
	for i := 0; i+2 < len(s); i++ {
		if s[i] != '-' || s[i+1] != 'p' || i > 0 && !isSpace(s[i-1]) {
			continue
		}
		v := i + 2
		switch {
		case glued && !isSpace(s[v]) && s[v] != '-':
		case spaced && isSpace(s[v]):
			v = skipSpaces(s, v)
		default:
			continue
		}
		i = max(e.maskFlagValue(v)-1, i)
	}
	return e.result()
}

// Tokens recognisable by their prefix alone, as secret scanners (gitleaks) know them:
// GitHub (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_), GitLab (glpat-), Slack (xoxa-,
// xoxb-, xoxp-, xoxr-, xoxs-, xapp-), OpenAI-style sk-/sk-proj-, Stripe (sk_live_,
// rk_live_), Google API keys (AIza), npm (npm_), DigitalOcean (dop_v1_), Hugging Face
// (hf_) and SendGrid (SG.<id>.<key>), each followed by at least minTail token
// characters. The first two bytes of each are the cheap trigger.
var tokenPrefixes = []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-", "xoxa-", "xoxb-", "xoxp-",
	"xoxr-", "xoxs-", "xapp-", "sk-proj-", "sk-", "sk_live_", "rk_live_", "AIza", "npm_", "dop_v1_", "hf_", "SG."}

const minTail = 20

// tokenFirst marks the prefixes' first bytes.
var tokenFirst = func() (t [256]bool) {
	for _, p := range tokenPrefixes {
		t[p[0]] = true
	}
	return t
}()

// b64URL marks the bytes of base64url (isB64URL), for the scans of every line.
var b64URL = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = isB64URL(byte(c))
	}
	return t
}()

// maskPrefixedTokens looks at the start of each word whose first byte begins a prefix,
// and skips every other word whole.
func maskPrefixedTokens(s string) string {
	e := editor{s: s}
	for i := 0; i+minTail < len(s); {
		if !b64URL[s[i]] {
			i++
			continue
		}
		start := i
		if tokenFirst[s[i]] {
			for _, p := range tokenPrefixes {
				if !strings.HasPrefix(s[i:], p) {
					continue
				}
				end := i + len(p)
				for end < len(s) && (b64URL[s[end]] || p == "SG." && s[end] == '.') {
					end++
				}
				if end-i-len(p) >= minTail {
					e.replace(i, end)
					i = end
				}
				break
			}
		}
		if i == start {
			for i < len(s) && b64URL[s[i]] {
				i++ // the rest of the word
			}
		}
	}
	return e.result()
}

// maskJWT masks compact JWS/JWT tokens: eyJ<header>.<payload>.<signature>.
func maskJWT(s string) string {
	if !strings.Contains(s, "eyJ") {
		return s
	}
	e := editor{s: s}
	for i := 0; i+3 <= len(s); i++ {
		if s[i] != 'e' || !strings.HasPrefix(s[i:], "eyJ") || (i > 0 && isB64URL(s[i-1])) {
			continue
		}
		end, dots := i, 0
		for end < len(s) {
			if isB64URL(s[end]) {
				end++
			} else if s[end] == '.' && dots < 2 {
				dots++
				end++
			} else {
				break
			}
		}
		if dots == 2 && end-i >= 16 {
			e.replace(i, end)
		}
		// A later "eyJ" inside this run follows a base64url byte or one of its dots and
		// would reach the same end with fewer dots: skipping keeps the scan linear.
		i = end - 1
	}
	return e.result()
}

// maskAWSKeys masks AWS access key ids (AKIA/ASIA + 16 upper-case letters or digits).
func maskAWSKeys(s string) string {
	if !strings.Contains(s, "AKIA") && !strings.Contains(s, "ASIA") {
		return s
	}
	e := editor{s: s}
	for i := 0; i+20 <= len(s); i++ {
		if s[i] != 'A' || (s[i+1:i+4] != "KIA" && s[i+1:i+4] != "SIA") || (i > 0 && isAlnum(s[i-1])) {
			continue
		}
		ok := i+20 == len(s) || !isAlnum(s[i+20])
		for k := i + 4; ok && k < i+20; k++ {
			ok = s[k] >= 'A' && s[k] <= 'Z' || s[k] >= '0' && s[k] <= '9'
		}
		if ok {
			e.replace(i, i+20)
			i += 19
		}
	}
	return e.result()
}

// maskURLPasswords masks the password of scheme://user:password@host. The password
// runs to the first '@' (a '/' in it is common, though it should be escaped); a
// "host:port/path@..." is not a password.
func maskURLPasswords(s string) string {
	if !strings.Contains(s, "://") && !strings.Contains(s, `:\/\/`) {
		return s
	}
	e := editor{s: s}
	for i := 0; i+3 <= len(s); i++ {
		if s[i] != ':' || i == 0 || !isAlnum(s[i-1]) {
			continue
		}
		start := i + 3
		switch {
		case strings.HasPrefix(s[i:], "://"):
		case strings.HasPrefix(s[i:], `:\/\/`): // JSON-escaped
			start = i + 5
		default:
			continue
		}
		colon := start
		for colon < len(s) && !isSpace(s[colon]) && strings.IndexByte(":@/?#\"'<>`", s[colon]) < 0 {
			colon++
		}
		if colon == len(s) || s[colon] != ':' {
			i = colon - 1
			continue
		}
		p0 := colon + 1
		at, port := p0, true
		for at < len(s) && !isSpace(s[at]) && strings.IndexByte("@\"'<>`", s[at]) < 0 {
			if port && (s[at] < '0' || s[at] > '9') {
				if at > p0 && strings.IndexByte("/?#", s[at]) >= 0 {
					break // host:port, then a path or query
				}
				port = false
			}
			at++
		}
		if at == len(s) || s[at] != '@' {
			i = at - 1 // no '@' up to here: no later "://" in this stretch has one either
			continue
		}
		// A password may hold '@' itself (user:p@ss@host): the host follows the last
		// '@' before the authority ends.
		for j := at + 1; j < len(s) && !isSpace(s[j]) && strings.IndexByte("/?#\"'<>`", s[j]) < 0; j++ {
			if s[j] == '@' {
				at = j
			}
		}
		e.mask(p0, at)
		i = at
	}
	return e.result()
}

// Azure DevOps personal access tokens (and other 52-character lower-case base32
// tokens) look like words on their own; one is masked when a credential word stands
// within patWindow bytes before it.
const (
	patLen    = 52
	patWindow = 40
)

var patWords = []string{"pat", "token", "password", "passwd", "pwd", "secret", "credential", "credentials"}

func maskPATs(s string) string {
	if len(s) < patLen {
		return s
	}
	e := editor{s: s}
	for i := 0; i < len(s); {
		if !isAlnum(s[i]) {
			i++
			continue
		}
		start := i
		base32, digit := true, false
		for i < len(s) && isAlnum(s[i]) {
			c := s[i]
			switch {
			case c >= '2' && c <= '7':
				digit = true
			case c >= 'a' && c <= 'z':
			default:
				base32 = false
			}
			i++
		}
		if i-start == patLen && base32 && digit && credentialWordBefore(s, start) {
			e.replace(start, i)
		}
	}
	return e.result()
}

// credentialWordBefore: a word of patWords, standing alone (no letter on either side),
// ends within patWindow bytes before i.
func credentialWordBefore(s string, i int) bool {
	lo := max(0, i-patWindow)
	for j := i; j > lo; j-- {
		if !isLetter(s[j-1]) || (j < len(s) && isLetter(s[j])) {
			continue
		}
		// s[:j] ends a word: find its start.
		w := j
		for w > lo && isLetter(s[w-1]) {
			w--
		}
		for _, k := range patWords {
			if strings.EqualFold(s[w:j], k) {
				return true
			}
		}
		j = w + 1
	}
	return false
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// Base64 blobs: a run of [A-Za-z0-9+/] (and trailing '=') at least minBlob long, with
// upper- and lower-case letters and a digit, '+' or '/'. Paths are spared by asking
// for a slash-free stretch of at least minStretch; hex digests, job ids (lower-case
// hex) and sequences (letters only) never qualify.
const (
	minBlob    = 40
	minStretch = 20
)

func isB64(c byte) bool { return isAlnum(c) || c == '+' || c == '/' }

func maskBase64(s string) string {
	if len(s) < minBlob {
		return s
	}
	e := editor{s: s}
	for i := 0; i < len(s); {
		if !isB64(s[i]) {
			i++
			continue
		}
		start := i
		var upper, lower, digitish bool
		stretch, longest, plus := 0, 0, 0
		for i < len(s) && isB64(s[i]) {
			c := s[i]
			switch {
			case c >= 'A' && c <= 'Z':
				upper = true
			case c >= 'a' && c <= 'z':
				lower = true
			case c == '+':
				plus++
				digitish = true
			default:
				digitish = true
			}
			if c == '/' {
				stretch = 0
			} else if stretch++; stretch > longest {
				longest = stretch
			}
			i++
		}
		end := i
		for end < len(s) && s[end] == '=' && end-i < 2 {
			end++
		}
		// Form-encoded words ("PREDICTED%3A+Drosophila+busckii+…") join with a '+'
		// every few bytes; base64 has one in 64.
		words := plus*12 > i-start
		if i-start >= minBlob && upper && lower && digitish && longest >= minStretch && !words {
			e.replace(start, end)
		}
		i = end
		for i < len(s) && s[i] == '=' {
			i++
		}
	}
	return e.result()
}

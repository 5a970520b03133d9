package sanitizetest

import (
	"net/url"
	"strings"
)

// Context is one way a line holds a secret.
type Context struct {
	Name string
	Wrap func(line string) string
}

// Case is one line of the corpus: a shape in a context.
type Case struct {
	Shape   Shape
	Context string
	Line    string
}

// Cases are every shape in every context.
func Cases() []Case {
	var out []Case
	for _, sh := range Shapes {
		for _, cx := range Contexts {
			out = append(out, Case{Shape: sh, Context: cx.Name, Line: cx.Wrap(sh.Before + sh.Value + sh.After)})
		}
	}
	return out
}

// Leaked is the encoding of c's value that line shows, "" when none.
func (c Case) Leaked(line string) string {
	for _, enc := range Encodings(c.Shape.Value) {
		if len(enc) >= 6 && strings.Contains(line, enc) {
			return enc
		}
	}
	return ""
}

// Shape is one kind of secret as it appears in a line: the line's text around
// its value, and the value, which must never come out.
type Shape struct {
	Name, Before, Value, After string
}

// Shapes are the kinds of secret the sanitiser knows, each with a value of its
// real shape.
var Shapes = []Shape{
	{"password=", "password=", "Tr0ub4dor&3xQ", ""},
	{"passphrase", "passphrase: ", "correct-horse-battery-9", ""},
	{"DB_PASS", "DB_PASS=", "pa55w0rdQz", ""},
	{"MYSQL_PWD", "MYSQL_PWD=", "h7Yx2mQp9w", ""},
	{"secret_key", "secret_key: ", "9fKq2LmN8vXw3RtY", ""},
	{"SecretKey JSON", `"SecretKey":"`, "Q2xvdWRTZWNyZXQ9", `"`},
	{"storage_key", "storage_key = ", "q1w2e3R4t5y6U7i8o9p0AbCdEfGh==", ""},
	{"client_secret", "client_secret=", "Qx8~Zk3.abcDEF12", ""},
	{"api-key header", "x-api-key: ", "4f3c2b1a0e9d8c7b6a5f4e3d2c1b0a99", ""},
	{"APIM header", "Ocp-Apim-Subscription-Key: ", "0123456789abcdef0123456789abcdef", ""},
	{"token=", "token=", "t0k3nV4lu3Xy9Qw8", ""},
	{"credentials", "credentials=", "Zm9vYmFyYmF6cXV4", ""},
	{"bearer", "Authorization: Bearer ", "abc123DEF456ghi789JKL012mno345", ""},
	{"AccountKey", "DefaultEndpointsProtocol=https;AccountName=stg;AccountKey=", "k8Vq2Nw5Yx7Zr1Tm3Pb9Lc4Hd6Jf0Gs==", ";EndpointSuffix=core.windows.net"},
	{"SAS sig", "https://stg.blob.core.windows.net/c/b?sv=2022-11-02&se=2026-12-08&sr=b&sp=r&sig=", "Zx9qA1b2C3d4E5f6G7h8", ""},
	{"URL password", "https://elb:", "p@ss:w0rd!x", "@elbdb.example.org/x"},
	{"mysql -p", "mysql -uroot -p", "Sup3rS3cret", " -h db"},
	{"sshpass", "sshpass -p ", "Sup3rS3cret", " ssh elb@host"},
	{"az login -p", "az login --service-principal -u app -p ", "Sup3rS3cret~x", " --tenant t"},
	{"github", "", "ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789", ""},
	{"slack", "", "xoxb-123456789012-AbCdEfGhIjKlMnOpQrSt", ""},
	{"aws key id", "", "AKIAIOSFODNN7EXAMPL3", ""},
	{"jwt", "", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJlbGIifQ.c2lnbmF0dXJlX2lzX2hlcmU", ""},
	{"PEM inline", "-----BEGIN RSA PRIVATE KEY-----", "MIIEpAIBAAKCAQEA7Zx9qA1b2C3d4E5f6G7h8", "-----END RSA PRIVATE KEY-----"},
	// Shapes gitleaks knows by their prefix.
	{"gitlab", "", "glpat-Zx9qA1b2C3d4E5f6G7h8", ""},
	{"stripe", "", "sk_live_4eC39HqLyjWDarjtT1zdp7dc", ""},
	{"google api key", "", "AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe", ""},
	{"npm", "", "npm_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789", ""},
	{"digitalocean", "", "dop_v1_0f3c2b1a0e9d8c7b6a5f4e3d2c1b0a990f3c2b1a0e9d8c7b6a5f4e3d2c1b0a99", ""},
	{"hugging face", "", "hf_AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh", ""},
	{"sendgrid", "", "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", ""},
	{"azure ad client secret", "AZURE_CLIENT_SECRET=", "Zx9~qA1b2C3d4E5f6G7h8Iq.Ab1Cd2Ef3Gh4Ij5K", ""},
}

// Contexts are the ways a line holds a secret: as it is, inside a JSON string
// (quotes, '&' and '/' escaped as encoders write them), quoted, percent-encoded in a
// URL's query, behind a log prefix, and after a progress bar's carriage return.
var Contexts = []Context{
	{"plain", func(l string) string { return "DEBUG: " + l }},
	{"json", func(l string) string {
		r := strings.NewReplacer(`"`, `\"`, "&", `\u0026`, "/", `\/`)
		return `{"level":"debug","msg":"` + r.Replace(l) + `"}`
	}},
	{"quoted", func(l string) string { return "cmd='" + l + "' exited" }},
	{"url-encoded", func(l string) string { return "GET https://proxy.example/fwd?next=" + url.QueryEscape(l) + "&x=1" }},
	{"prefixed", func(l string) string { return "2026-12-07 04:50:00,123 celery.worker INFO " + l }},
	{"carriage-return", func(l string) string { return "100% |██████████| 24/24\r" + l }},
}

// Encodings of a value as the contexts write it: the value must be in none of them.
func Encodings(v string) []string {
	return []string{v, strings.NewReplacer(`"`, `\"`, "&", `\u0026`, "/", `\/`).Replace(v), url.QueryEscape(v)}
}

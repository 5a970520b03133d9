package sanitize

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCleanRealOutput(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"ansi yellow submit line", "\x1b[33m Splitting queries into batches\x1b[0m", " Splitting queries into batches"},
		{"ansi with params", "\x1b[1;31;40mERROR\x1b[0m: AKS cluster elb-cluster-02 not found", "ERROR: AKS cluster elb-cluster-02 not found"},
		{"azcopy bare CR", "0.0 %, 0 Done\r100.0 %, 1 Done", "0.0 %, 0 Done 100.0 %, 1 Done"},
		{"crlf", "Final Job Status: Completed\r\n", "Final Job Status: Completed  "},
		{"osc title with BEL", "\x1b]0;elastic-blast\x07ready", "ready"},
		{"osc hyperlink with ST", "\x1b]8;;https://x\x1b\\link\x1b]8;;\x1b\\", "link"},
		{"charset escape", "\x1b(Bplain", "plain"},
		{"keypad escape", "\x1b=x\x1b>y", "xy"},
		{"c1 csi", "\u009b31mred", "red"},
		{"c1 other", "a\u0085b", "ab"},
		{"c0 and del", "a\x00b\x07c\x08d\x7fe", "abcde"},
		{"tab kept", "col1\tcol2", "col1\tcol2"},
		{"invalid utf8", "bad\xffbyte\xc3", "bad\uFFFDbyte\uFFFD"},
		{"lone esc at end", "end\x1b", "end"},
		{"unterminated csi", "x\x1b[12", "x"},
		{"unterminated osc", "x\x1b]0;title", "x"},
		{"utf8 kept", "Δt = 42 µs ✓", "Δt = 42 µs ✓"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Line(c.in); got != c.want {
				t.Fatalf("Line(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

const jwt = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJvaWQiOiIxMjM0NTY3OCIsInRpZCI6ImFiYyJ9.c2lnbmF0dXJlLWJ5dGVzLWhlcmUtZm9yLXRlc3Q"

func TestMasksSecrets(t *testing.T) {
	cases := []struct{ name, in, want, secret string }{
		{"sas url", "Uploading to https://stgelb.blob.core.windows.net/results/q.fa?sv=2022-11-02&ss=b&srt=o&sp=rw&se=2026-12-01T00:00:00Z&sig=AbC%2Bdef%3D done",
			"Uploading to https://stgelb.blob.core.windows.net/results/q.fa?*** done", "AbC%2Bdef"},
		{"bare sig", "token parts sv=2022&sig=Zm9vYmFy", "token parts sv=2022&sig=***", "Zm9vYmFy"},
		{"passphrase", "passphrase=Hunter2Secret", "passphrase=***", "Hunter2"},
		{"DB_PASS", "DB_PASS=Hunter2Secret ok", "DB_PASS=*** ok", "Hunter2"},
		{"MYSQL_PWD", "export MYSQL_PWD=Hunter2Secret", "export MYSQL_PWD=***", "Hunter2"},
		{"secret_key colon", "secret_key: Hunter2Secret", "secret_key: ***", "Hunter2"},
		{"SecretKey JSON", `{"SecretKey":"Hunter2Secret"}`, `{"SecretKey":"***"}`, "Hunter2"},
		{"storage_key spaced", "storage_key = Hunter2Secret", "storage_key = ***", "Hunter2"},
		{"subscription key header", "Ocp-Apim-Subscription-Key: 0123456789abcdef0123456789abcdef", "Ocp-Apim-Subscription-Key: ***", "0123456789abcdef"},
		{"api key header", "x-api-key: 0123456789abcdef0123456789abcdef", "x-api-key: ***", "0123456789abcdef"},
		{"mysql -p glued", "mysql -uroot -pHunter2Secret db", "mysql -uroot -p*** db", "Hunter2"},
		{"sshpass -p", "sshpass -p Hunter2Secret ssh host", "sshpass -p *** ssh host", "Hunter2"},
		{"az login -p", "az login --service-principal -u app -p Hunter2Secret --tenant t", "az login --service-principal -u app -p *** --tenant t", "Hunter2"},
		{"url password with @", "https://user:p@ss@host/x", "https://user:***@host/x", "p@ss"},
		{"sas url, JSON-escaped &", `{"sasUrl":"https://a.blob.core.windows.net/c?sv=2022-11-02\u0026se=2026-12-01\u0026sig=Zx9qAbCdEf%3D"}`,
			`{"sasUrl":"https://a.blob.core.windows.net/c?***"}`, "Zx9qAbCdEf"},
		{"sas url, JSON-escaped ? and / in upper case", `"url":"https:\/\/a.blob.core.windows.net\/c\U003Fsv=1\U0026sig=Qq7PpXx"`,
			`"url":"https:\/\/a.blob.core.windows.net\/c\U003F***"`, "Qq7PpXx"},
		{"sas url percent-encoded in another URL", "https://proxy.example.org/go?to=https%3A%2F%2Fa.blob.core.windows.net%2Fc%3Fsv%3D2022%26sig%3DZm9vYmFyS2V5 next",
			"https://proxy.example.org/go?*** next", "Zm9vYmFyS2V5"}, // the outer query holds it: all of it goes
		{"sas query percent-encoded alone", "redirect=%2Fc%3Fsv%3D2022%26sig%3DZm9vYmFyS2V5 next",
			"redirect=%2Fc%3F*** next", "Zm9vYmFyS2V5"},
		{"bearer", "Authorization: Bearer abc.DEF-123_~+/=", "Authorization: Bearer ***", "abc.DEF"},
		{"bearer lower", "curl -H 'authorization: bearer s3cr3t'", "curl -H 'authorization: bearer ***'", "s3cr3t"},
		{"jwt", "token " + jwt + " end", "token *** end", "eyJhbGci"},
		{"account key", "AccountName=stgelb;AccountKey=q1w2e3r4t5y6u7i8o9p0AbCdEf==;EndpointSuffix=core.windows.net",
			"AccountName=stgelb;AccountKey=***;EndpointSuffix=core.windows.net", "q1w2e3"},
		{"connection string", "conn DefaultEndpointsProtocol=https;AccountName=stgelb;AccountKey=abc123==;EndpointSuffix=core.windows.net ok",
			"conn DefaultEndpointsProtocol=*** ok", "abc123"},
		{"client secret json", `{"client_secret": "Xy7~abc.def", "client_id": "c1"}`, `{"client_secret": "***", "client_id": "c1"}`, "Xy7~abc"},
		{"access_key", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG", "aws_secret_access_key = ***", "wJalrXU"},
		{"password", "connecting with password=hunter2 user=bob", "connecting with password=*** user=bob", "hunter2"},
		{"token", "export SAS_TOKEN='sv=2020&sig=x'", "export SAS_TOKEN='***'", "sv=2020"},
		{"secret", "secret=topsecret", "secret=***", "topsecret"},
		{"aws key", "using AKIAIOSFODNN7EXAMPLE for s3", "using *** for s3", "AKIAIOSFODNN7"},
		{"aws session key", "ASIAY34FZKBOKMUTVV7A", "***", "ASIAY34"},
		{"url password", "redis://default:p4ss@redis.example:6380/0", "redis://default:***@redis.example:6380/0", "p4ss"},
		{"url password no user", "rediss://:hunter2@cache.redis.cache.windows.net:6380", "rediss://:***@cache.redis.cache.windows.net:6380", "hunter2"},
		{"base64 blob", "key Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1ub3A+/Q== end", "key *** end", "Zm9vYmFy"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Line(c.in)
			if got != c.want {
				t.Fatalf("Line(%q)\n got %q\nwant %q", c.in, got, c.want)
			}
			if strings.Contains(got, c.secret) {
				t.Fatalf("secret %q survived in %q", c.secret, got)
			}
		})
	}
}

func TestKeepsScienceAndPaths(t *testing.T) {
	fasta := strings.Repeat("ACGTTGCAACGTAGCTAGCTAGGATCCGATCGATCGTAGCTAGCTAGCTAGCATCGATCGAT", 8)
	protein := strings.Repeat("MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQAPILSRVGDGTQDNLSGAEKAVQVKVKALPDAQ", 5)
	keep := []string{
		fasta, strings.ToLower(fasta), protein,
		">sp|P69905|HBA_HUMAN Hemoglobin subunit alpha OS=Homo sapiens OX=9606 GN=HBA1 PE=1 SV=2",
		"blastn -db core_nt_shard_00 -query /shared/requests/batch_000.fa -out /shared/results/batch_000-blastn-core_nt_shard_00.out -num_threads 16 -outfmt 5",
		"blastp -task blastp-fast -evalue 1e-5 -max_target_seqs 500 -word_size 3 -outfmt \"6 qseqid sseqid pident\"",
		"job-429825360482416da20736cf3ed51a95",
		"BLAST selector:  app=blast,elb-job-id=job-429825360482416da20736cf3ed51a95",
		"[1/5] Writing configuration to https://stgelb.blob.core.windows.net/results/v2/A1-fulldb-10q-E32-1n/job-429825360482416da20736cf3ed51a95/metadata/elastic-blast-config.json",
		"Shard download: idx=00 prefix=https://stgelb.blob.core.windows.net/blast-db/core_nt/10shards/core_nt_shard_ db=core_nt_shard_00",
		"/shared/Results/Batch0001/AnotherDirectory/Output2026/Final/blastn.out",
		"sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		"Job 8341c71c-9956-7a4c-5b38-7e44f6ee8ca6 has started",
		"ERROR: token expired, re-authenticating", "max_tokens: 30", "get_query_mode: fsize=39191 min_fsize_to_split_on_client=20000000",
		"What? Nothing here?sig", "see https://example.org/a?b=c&d=e",
	}
	for _, s := range keep {
		if got := Line(s); got != s {
			t.Errorf("changed a line that must survive:\n in %q\nout %q", s, got)
		}
	}
}

func TestTruncates(t *testing.T) {
	long := strings.Repeat("é", 5000)
	got := Line(long)
	if n := utf8.RuneCountInString(got); n != MaxChars {
		t.Fatalf("length %d", n)
	}
	if !strings.HasSuffix(got, Ellipsis) {
		t.Fatalf("no ellipsis: %q", got[len(got)-10:])
	}
	if got := Line(strings.Repeat("word ", 1000)); utf8.RuneCountInString(got) != MaxChars || !strings.HasSuffix(got, " word…") {
		t.Fatalf("not cut at exactly %d characters: ...%q", MaxChars, got[len(got)-12:])
	}
	exact := strings.Repeat("x", MaxChars)
	if Line(exact) != exact {
		t.Fatal("a line of exactly the cap was changed")
	}
	// A secret straddling the cap must not leak through the cut.
	s := strings.Repeat("a", MaxChars-8) + " password=hunter2hunter2"
	if got := Line(s); strings.Contains(got, "hunter") || Line(got) != got {
		t.Fatalf("cut leaked or is unstable: %q", got[len(got)-40:])
	}
}

// TestFixtureLines runs every line of the ElasticBLAST fixture through Line: nothing is
// left with an escape sequence, and no plain pod line is altered.
func TestFixtureLines(t *testing.T) {
	data, err := os.ReadFile("testdata/elastic-blast-output.json") // a copy of shared/fixtures'
	if err != nil {
		t.Fatal(err)
	}
	var fx struct {
		Stdout []string `json:"submit_stdout"`
		Stderr []string `json:"submit_stderr"`
		Pods   map[string]struct {
			Containers map[string][]string `json:"containers"`
		} `json:"pods"`
	}
	if err := json.Unmarshal(data, &fx); err != nil {
		t.Fatal(err)
	}
	for _, l := range append(fx.Stdout, fx.Stderr...) {
		got := Line(l)
		if strings.ContainsAny(got, "\x1b\r\n") {
			t.Errorf("escape left in %q", got)
		}
	}
	for _, p := range fx.Pods {
		for _, lines := range p.Containers {
			for _, l := range lines {
				if got := Line(l); got != l {
					t.Errorf("pod line altered:\n in %q\nout %q", l, got)
				}
			}
		}
	}
}

func FuzzLine(f *testing.F) {
	for _, s := range []string{"\x1b[33mhi\x1b[0m", "a\rb\nc", "password=x", jwt, "https://u:p@h/x?sig=1",
		"AKIAIOSFODNN7EXAMPLE", "\xff\xfe", "\u009b1m", strings.Repeat("ab", 2100) + "password=zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := Line(in)
		if !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8 out: %q", out)
		}
		if strings.ContainsAny(out, "\r\n\x1b") {
			t.Fatalf("CR, LF or ESC survived: %q", out)
		}
		if n := utf8.RuneCountInString(out); n > MaxChars {
			t.Fatalf("%d characters", n)
		}
		if again := Line(out); again != out {
			t.Fatalf("not idempotent:\n once %q\ntwice %q", out, again)
		}
	})
}

// TestLinearOnAdversarialInput guards against rescans: each input is 1 MiB of a
// pattern that once made a rule quadratic. Each must finish well within the test
// timeout; the benchmark BenchmarkLine measures speed.
func TestLinearOnAdversarialInput(t *testing.T) {
	for _, unit := range []string{"eyJ", "eyJa.", "a=", " password=", "?sig=", "://a@", "bearer ", "AKIA", "\x1b[", "\x1b]", "A1b2/",
		"-----BEGIN ", "-----BEGIN PRIVATE KEY-----", "://a:1", "://a:b/", "--password '", "pat " + strings.Repeat("a2", 26) + " "} {
		Line(strings.Repeat(unit, (1<<20)/len(unit)))
	}
}

// The classes of docs/api.md §5 added after 0.1: masked as shown, and look-alikes kept.
func TestMoreSecretClasses(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"git clone https://ghp_0123456789abcdefghijABCDEFGHIJ012345@github.com/o/r", "git clone https://***@github.com/o/r"},
		{"GITHUB_TOKEN=github_pat_11ABCDEFG0123456789_abcdefghijklmnop", "GITHUB_TOKEN=***"},
		{"token gho_abcdefghijklmnopqrstuvwxyz0123456789 used", "token *** used"},
		{"slack: xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp", "slack: ***"},
		{"using key sk-proj-abcDEF123456ghiJKL789012mno", "using key ***"},
		{"OPENAI sk-abcdefghijklmnopqrstuvwxyz012345 ok", "OPENAI *** ok"},
		{"Authorization: Basic dXNlcjpodW50ZXIyaHVudGVyMg==", "Authorization: Basic ***"},
		{"password: hunter2", "password: ***"},
		{"client_secret = s3cr3t-value", "client_secret = ***"},
		{"az login --service-principal -u app --password Zk9~xYz.123 --tenant t", "az login --service-principal -u app --password *** --tenant t"},
		{"azcopy --client-secret abc123def456 copy", "azcopy --client-secret *** copy"},
		{"PWD=/home/elb/run-42", "PWD=/home/elb/run-42"},
		{"cd -p x", "cd -p x"},
		{"ERROR: token expired, please log in again", "ERROR: token expired, please log in again"},
		{"a basic local alignment search tool", "a basic local alignment search tool"},
		{"blastn --db /blast/db/core_nt --query batch_000.fa", "blastn --db /blast/db/core_nt --query batch_000.fa"},
		{"skip sk-short and ghp_short", "skip sk-short and ghp_short"},
		{"task-sk-abcdefghijklmnopqrstuvwxyz0123 name", "task-sk-abcdefghijklmnopqrstuvwxyz0123 name"},
	} {
		if got := Line(c.in); got != c.want {
			t.Errorf("Line(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
		if got := Line(c.want); got != c.want {
			t.Errorf("not idempotent on %q: %q", c.want, got)
		}
	}
}

package sanitize

import (
	"fmt"
	"strings"
	"testing"
)

// TestRealisticLines: lines as ElasticBLAST, azcopy, kubectl, az and Celery print
// them, with and without secrets; each must come out exactly as given.
func TestRealisticLines(t *testing.T) {
	const pat = "k3mxq7vboq2ztz6hbl4w5jcrdya7lk5n3ezw2f4tqvfp6xmsgk2a" // 52 base32 characters
	for _, c := range []struct{ in, want string }{
		// ElasticBLAST submit and its pods
		{"INFO: Uploading queries to https://stgelb.blob.core.windows.net/queries/batch_000.fa?sv=2023-01-03&se=2026-12-02T10%3A00%3A00Z&sr=b&sp=rw&sig=Yk%2F3nQ%3D",
			"INFO: Uploading queries to https://stgelb.blob.core.windows.net/queries/batch_000.fa?***"},
		{"elastic-blast submit --cfg /work/elb.ini --loglevel DEBUG", "elastic-blast submit --cfg /work/elb.ini --loglevel DEBUG"},
		{"blastn -db core_nt -query /blast/queries/batch_007.fa -outfmt 11 -num_threads 15 -out /blast/results/batch_007-blastn-core_nt.out",
			"blastn -db core_nt -query /blast/queries/batch_007.fa -outfmt 11 -num_threads 15 -out /blast/results/batch_007-blastn-core_nt.out"},
		{"Your ElasticBLAST search has started: job-429825360482416da20736cf3ed51a95", "Your ElasticBLAST search has started: job-429825360482416da20736cf3ed51a95"},
		{"DEBUG: AZURE_STORAGE_KEY=q1w2e3R4t5y6U7i8o9p0AbCdEfGhIjKlMnOpQrStUvWxYz012345==", "DEBUG: AZURE_STORAGE_KEY=***"},
		{"DEBUG: cmd az storage blob upload --connection-string DefaultEndpointsProtocol=https;AccountName=stgelb;AccountKey=abc123==;EndpointSuffix=core.windows.net --file x",
			"DEBUG: cmd az storage blob upload --connection-string DefaultEndpointsProtocol=*** --file x"},
		{"export BLAST_USAGE_REPORT=false PWD=/home/elb/runs/run-42", "export BLAST_USAGE_REPORT=false PWD=/home/elb/runs/run-42"},
		{"Selected BLAST database: core_nt (size 251.3 GiB, 144 shards)", "Selected BLAST database: core_nt (size 251.3 GiB, 144 shards)"},
		{">XM_017290417.2 PREDICTED: Drosophila busckii uncharacterized protein LOC108601124", ">XM_017290417.2 PREDICTED: Drosophila busckii uncharacterized protein LOC108601124"},
		{"TTGACAGTTAGCGATCGATCGGGATTACACGATTAGCTAGCATCGATCGACTAGCTAGGCGATCGAT", "TTGACAGTTAGCGATCGATCGGGATTACACGATTAGCTAGCATCGATCGACTAGCTAGGCGATCGAT"},
		// azcopy
		{"INFO: azcopy 10.27.1: copying https://elbdb.blob.core.windows.net/blast-db/core_nt/core_nt.00.tar.gz?se=2026-12-03&sp=r&sv=2022-11-02&sr=c&sig=AbCd%2BeF",
			"INFO: azcopy 10.27.1: copying https://elbdb.blob.core.windows.net/blast-db/core_nt/core_nt.00.tar.gz?***"},
		{"100.0 %, 144 Done, 0 Failed, 0 Pending, 0 Skipped, 144 Total, 2-sec Throughput (Mb/s): 8213.4", "100.0 %, 144 Done, 0 Failed, 0 Pending, 0 Skipped, 144 Total, 2-sec Throughput (Mb/s): 8213.4"},
		{"azcopy login --service-principal --application-id 0f3c --client-secret Qx8~Zk3.abc;def,ghi --tenant-id t1",
			"azcopy login --service-principal --application-id 0f3c --client-secret *** --tenant-id t1"},
		{"Log file is located at: /root/.azcopy/8c1e7f2e-1a2b-4c3d-9e8f-0a1b2c3d4e5f.log", "Log file is located at: /root/.azcopy/8c1e7f2e-1a2b-4c3d-9e8f-0a1b2c3d4e5f.log"},
		// kubectl and az
		{"job.batch/blastn-batch-core-nt-job-012-3ed51a95 created", "job.batch/blastn-batch-core-nt-job-012-3ed51a95 created"},
		{"pod/init-ssd-3ed51a95-x7k2p condition met", "pod/init-ssd-3ed51a95-x7k2p condition met"},
		{"kubectl --token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJlbGIifQ.c2lnbmF0dXJl get pods", "kubectl --token *** get pods"},
		{"    user: {token: 0a1b2c3d4e5f60718293a4b5c6d7e8f9}", "    user: {token: ***"},
		{"client-key-data: LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQpNSUlFcEFJQkFBS0NBUUVBN", "client-key-data: ***"},
		{"az aks get-credentials --resource-group rg-elb --name elb-aks-01 --overwrite-existing", "az aks get-credentials --resource-group rg-elb --name elb-aks-01 --overwrite-existing"},
		{"az login --service-principal -u 0f3c -p Zk9~x --tenant t1", "az login --service-principal -u 0f3c -p *** --tenant t1"},
		{"az login --service-principal --username 0f3c --password 'Zk9~xY;z,1' --tenant t1", "az login --service-principal --username 0f3c --password '***' --tenant t1"},
		{`{"accessToken": "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwcyJ9.sig-bytes_here", "expiresOn": "2026-12-02 10:00:00"}`,
			`{"accessToken": "***", "expiresOn": "2026-12-02 10:00:00"}`},
		// Celery and Python
		{"[2026-12-02 09:14:03,127: INFO/MainProcess] Task blast.submit[8341c71c-9956-7a4c-5b38-7e44f6ee8ca6] received",
			"[2026-12-02 09:14:03,127: INFO/MainProcess] Task blast.submit[8341c71c-9956-7a4c-5b38-7e44f6ee8ca6] received"},
		{"[2026-12-02 09:14:03,130: WARNING/ForkPoolWorker-2] Connecting to rediss://:Pa55/w0rd;x@elb-cache.redis.cache.windows.net:6380/0",
			"[2026-12-02 09:14:03,130: WARNING/ForkPoolWorker-2] Connecting to rediss://:***@elb-cache.redis.cache.windows.net:6380/0"},
		{"broker_url = redis://default:s3cr/et@10.0.0.4:6379/0", "broker_url = redis://default:***@10.0.0.4:6379/0"},
		{"Retry in 2s: ConnectionError('Error 111 connecting to redis://10.0.0.4:6379/0')", "Retry in 2s: ConnectionError('Error 111 connecting to redis://10.0.0.4:6379/0')"},
		{"see https://elb.example.org:8443/docs/user@example.org for help", "see https://elb.example.org:8443/docs/user@example.org for help"},
		{"celery worker: password=hunter2;with,commas and more", "celery worker: password=*** and more"},
		{"db_password: correct;horse,battery", "db_password: ***"},
		{"ERROR: token expired, re-authenticating with the managed identity", "ERROR: token expired, re-authenticating with the managed identity"},
		{"Authorization: Basic ZWxiOmh1bnRlcjJodW50ZXIy", "Authorization: Basic ***"},
		{"Basic local alignment search tool, version 2.16.0+", "Basic local alignment search tool, version 2.16.0+"},
		{"GITHUB_TOKEN=ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789 pip install -r requirements.txt", "GITHUB_TOKEN=*** pip install -r requirements.txt"},
		{"notify slack xoxb-2048-4096-AbCdEfGhIjKlMnOpQrStUv", "notify slack ***"},
		{"OPENAI_API_KEY=sk-proj-Ab12Cd34Ef56Gh78Ij90Kl12Mn34", "OPENAI_API_KEY=***"},
		{"AZURE_DEVOPS_EXT_PAT=" + pat, "AZURE_DEVOPS_EXT_PAT=***"},
		{"using PAT " + pat + " for the feed", "using PAT *** for the feed"},
		{"checksum " + pat, "checksum " + pat}, // no credential word: a word, not a token
		{"aws configure set aws_access_key_id AKIAIOSFODNN7EXAMPLE", "aws configure set aws_access_key_id ***"},
		{"query=batch_000.fa&token=abc123&user=elb", "query=batch_000.fa&token=***&user=elb"},
		{"https://elb.example.org/api/runs?page=2&sort=created", "https://elb.example.org/api/runs?page=2&sort=created"},
		{"-----BEGIN CERTIFICATE----- MIIBszCCAVmgAwIBAgIU", "-----BEGIN CERTIFICATE----- MIIBszCCAVmgAwIBAgIU"}, // public
		{`"private_key": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"`,
			`"private_key": "***"`},
		{"Final Job Status: Completed, 144 of 144 batches in 00:41:12", "Final Job Status: Completed, 144 of 144 batches in 00:41:12"},
	} {
		if got := Line(c.in); got != c.want {
			t.Errorf("Line(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
		if got := Line(c.want); got != c.want {
			t.Errorf("not idempotent on %q: %q", c.want, got)
		}
	}
}

// A private key printed line by line is masked from its BEGIN line to its END line;
// what follows is not.
func TestStreamMasksAKeyBlock(t *testing.T) {
	in := []string{
		"writing the service principal's key:",
		"-----BEGIN RSA PRIVATE KEY-----",
		"Proc-Type: 4,ENCRYPTED",
		"DEK-Info: AES-128-CBC,3F17F5316E2BAC89",
		"",
		"MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun",
		"VTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK",
		"q2w3", // a short last line: no rule of Line masks it alone
		"-----END RSA PRIVATE KEY-----",
		"key written to /home/elb/.ssh/id_rsa",
	}
	want := []string{
		"writing the service principal's key:",
		"-----BEGIN RSA PRIVATE KEY-----",
		Mask, Mask, Mask, Mask, Mask, Mask,
		"-----END RSA PRIVATE KEY-----",
		"key written to /home/elb/.ssh/id_rsa",
	}
	var st Stream
	for i, l := range in {
		if got := st.Line(l); got != want[i] {
			t.Errorf("line %d: %q, want %q", i, got, want[i])
		}
	}
	if st.InKey {
		t.Fatal("still inside a key after its END line")
	}
}

// A block that is never closed ends at the first line that cannot be key material;
// a certificate never starts one.
func TestStreamKeyBlockEndsAtProse(t *testing.T) {
	var st Stream
	for _, c := range []struct{ in, want string }{
		{"-----BEGIN OPENSSH PRIVATE KEY----- b3BlbnNzaC1rZXktdjEAAAAA", "-----BEGIN OPENSSH PRIVATE KEY-----***"},
		{"AAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZWQy", Mask},
		{"Traceback (most recent call last):", "Traceback (most recent call last):"},
		{"abc", "abc"},
		{"-----BEGIN CERTIFICATE-----", "-----BEGIN CERTIFICATE-----"},
		{"q2w3", "q2w3"},
	} {
		if got := st.Line(c.in); got != c.want {
			t.Errorf("Stream.Line(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	st = Stream{}
	st.Line("-----BEGIN EC PRIVATE KEY-----")
	for i := 0; i < maxKeyLines+5; i++ {
		st.Line("q2w3")
	}
	if st.InKey {
		t.Fatal("a block never closed is held past maxKeyLines")
	}
}

// FuzzStream feeds a stream line after line: the state never makes a line unsafe,
// and a stream outside a key gives what Line gives.
func FuzzStream(f *testing.F) {
	f.Add("-----BEGIN PRIVATE KEY-----\nMIIE\nq2w3\n-----END PRIVATE KEY-----\nplain")
	f.Add("-----BEGIN RSA PRIVATE KEY----- x\nProc-Type: 4\n\n-----END")
	f.Add("https://u:p/a@h\npassword=a;b\nPAT " + strings.Repeat("a2", 26))
	f.Fuzz(func(t *testing.T, in string) {
		var st Stream
		for _, l := range strings.Split(in, "\n") {
			was, n, c := st.InKey, st.KeyLines, clean(l)
			out := st.Line(l)
			if !was && out != Line(l) {
				t.Fatalf("outside a key, Stream.Line(%q) = %q, Line = %q", l, out, Line(l))
			}
			if was && n < maxKeyLines && keyBodyLine(c) && !strings.Contains(c, pemEnd) && out != Mask {
				t.Fatalf("inside a key, %q came out as %q", l, out)
			}
			if Line(out) != out {
				t.Fatalf("not idempotent: %q", out)
			}
		}
	})
}

// A key printed through a logger, a prefix on every line: its body is masked whole,
// short lines and the short last one included, the prefixes kept; fixed-width
// prefixes and prefixes whose width varies alike. Prefixed prose ends the block.
func TestStreamMasksAPrefixedKey(t *testing.T) {
	body := []string{"MIIEowIBAAKCAQEAu1SU1LfV", "LPHCozMxH2Mo4lgO", "EePzNm0tRgeLezV6", "q2w3"}
	for _, prefix := range []func(i int) string{
		func(i int) string { return fmt.Sprintf("2026-12-07 04:50:%02d,123 INFO ", i) },
		func(i int) string { return []string{"I1207 ", "W1207 ", "DEBUG: ", "INFO: "}[i%4] },
		func(i int) string { return fmt.Sprintf("[pod/init-ssd-%d] ", i*7) },
	} {
		var st Stream
		if got := st.Line(prefix(0) + "-----BEGIN RSA PRIVATE KEY-----"); got != prefix(0)+"-----BEGIN RSA PRIVATE KEY-----" {
			t.Fatalf("BEGIN: %q", got)
		}
		for i, b := range body {
			got := st.Line(prefix(i+1) + b)
			if strings.Contains(got, b) || !strings.HasSuffix(got, Mask) {
				t.Errorf("body line %q came out as %q", prefix(i+1)+b, got)
			}
		}
		end := prefix(9) + "-----END RSA PRIVATE KEY-----"
		if got := st.Line(end); got != end || st.InKey {
			t.Errorf("END: %q (in a key: %v)", got, st.InKey)
		}
		if after := prefix(10) + "uploading results"; st.Line(after) != after {
			t.Errorf("after the key: %q", st.Line(after))
		}
	}
	// Never closed: prefixed prose ends the block.
	var st Stream
	st.Line("INFO -----BEGIN EC PRIVATE KEY-----")
	st.Line("INFO MHcCAQEEIBkgWv9q2w3")
	if got := st.Line("INFO uploading results to storage"); got != "INFO uploading results to storage" || st.InKey {
		t.Errorf("prose after an unclosed key: %q (in a key: %v)", got, st.InKey)
	}
}

package diagnose

import (
	"strconv"
	"strings"
)

// Rule is one entry of the table of ElasticBLAST's known error messages
// (docs/api.md §8, "Before any pod exists"): what the submit output (or a batch's
// error output) says, the cause it names, a headline and the setting to change.
type Rule struct {
	Reason   string // the cause's reason: QuotaExceeded, AuthorizationFailed, ...
	Headline string // completes "elastic-blast submit failed: …"
	Hint     string
	// match: any group whose substrings all occur (lower case) in the line.
	match [][]string
}

// Rules is the table, in the order it is tried: the first match wins.
var Rules = []Rule{
	{Reason: "QuotaExceeded", Headline: "the subscription's vCPU quota is too small for the cluster",
		Hint: "Raise the subscription's vCPU quota for the machine-type's VM family in the cluster's region " +
			"(Azure portal, Quotas), or lower num-nodes or pick a smaller machine-type in the ElasticBLAST config.",
		match: [][]string{{"quota", "cores"}, {"quota", "vcpu"}, {"quotaexceeded"}, {"exceeding approved", "quota"}}},
	{Reason: "AADSTS", Headline: "Entra ID refused to sign the identity in",
		Hint: "Sign in again (az login) or renew the service principal's secret or federated credential; " +
			"the AADSTS code in the submit output names the reason.",
		match: [][]string{{"aadsts"}}},
	{Reason: "AuthorizationPermissionMismatch", Headline: "the storage account refused the identity",
		Hint: "Give the identity that runs elastic-blast the 'Storage Blob Data Contributor' role on the storage " +
			"account of the results and queries URLs.",
		match: [][]string{{"authorizationpermissionmismatch"}, {"not authorized to perform this operation"},
			{"cannot write into bucket"}, {"authorizationfailure"}}},
	{Reason: "AuthorizationFailed", Headline: "Azure refused the identity's request",
		Hint: "Give the identity that runs elastic-blast a role on the resource group that allows the action " +
			"the message names (Contributor on the cluster's resource group), then submit again.",
		match: [][]string{{"authorizationfailed"}, {"does not have authorization to perform action"}}},
	{Reason: "ClusterExists", Headline: "a cluster of that name already exists",
		Hint: "Choose another cluster-name in the ElasticBLAST config, or delete the old cluster first with " +
			"elastic-blast delete.",
		match: [][]string{{"cluster", "already exists"}}},
	{Reason: "ClusterNotResponding", Headline: "the cluster exists but does not answer",
		Hint:  "Check the cluster in the Azure portal; if it is broken, delete it with elastic-blast delete and submit again.",
		match: [][]string{{"exists, but is not responding"}}},
	{Reason: "ClusterNotFound", Headline: "the cluster was not found",
		Hint: "Check cluster-name and the resource group in the ElasticBLAST config (and that the cluster was not " +
			"deleted), or let elastic-blast create it.",
		match: [][]string{{"cluster", "not found"}, {"is not valid or not created yet"}, {"resourcenotfound"},
			{"resourcegroupnotfound"}}},
	{Reason: "InvalidBLASTOptions", Headline: "BLAST refused its options",
		Hint: "Fix the options line (or the program) in the [blast] section of the ElasticBLAST config; the " +
			"error names the option.",
		match: [][]string{{"incorrect -task option"}, {"invalid blast options"}, {"unknown argument"},
			{"-mt_mode"}, {"blast query/options error"}, {"invalid blast program"}, {"argument \"", "illegal value"}}},
	{Reason: "QueryNotFound", Headline: "the queries cannot be read",
		Hint: "Check the queries URL in the ElasticBLAST config, and that the identity may read it.",
		match: [][]string{{"query input", "not readable"}, {"query", "does not exist"}, {"blobnotfound"},
			{"the specified blob does not exist"}}},
	{Reason: "DatabaseNotFound", Headline: "the BLAST database was not found",
		Hint: "Check the db setting in the ElasticBLAST config: the database name or URL, and that its molecule " +
			"type fits the program.",
		match: [][]string{{"blast database", "not found"}, {"is not a valid blast database"},
			{"metadata for blast database"}, {"blast database error"}, {"no alias or index file found"}}},
	{Reason: "MachineType", Headline: "the machine-type does not fit the search",
		Hint: "Pick another machine-type in the ElasticBLAST config: one the region offers with enough memory for the database.",
		match: [][]string{{"invalid machine type"}, {"does not have enough memory to run the search"},
			{"machine type", "could not be found"}}},
	{Reason: "ConfigParameter", Headline: "the config has a setting it does not know",
		Hint:  "Check the spelling and the section of the setting the message names in the ElasticBLAST config.",
		match: [][]string{{"unrecognized configuration parameter"}}},
	{Reason: "StaleFileHandle", Headline: "the shared volume went away",
		Hint: "The batch's shared volume (/shared) was lost under it; ElasticBLAST retries the batch. If it " +
			"repeats, check the node's local SSD and the cluster's storage.",
		match: [][]string{{"stale file handle"}}},
	{Reason: "NoSpaceLeft", Headline: "a disk is full",
		Hint:  "The node's disk is full: pick a machine-type with a larger local SSD, or a smaller database.",
		match: [][]string{{"no space left on device"}}},
	{Reason: "OutOfMemory", Headline: "a program ran out of memory",
		Hint:  "Raise mem-limit in the ElasticBLAST config, or lower batch-len so that each batch needs less.",
		match: [][]string{{"std::bad_alloc"}, {"out of memory"}, {"cannot allocate memory"}}},
}

// MatchMessage finds the table's entry for an error line.
func MatchMessage(line string) (Rule, bool) {
	l := strings.ToLower(line)
	for _, r := range Rules {
		for _, group := range r.match {
			all := true
			for _, s := range group {
				if !strings.Contains(l, s) {
					all = false
					break
				}
			}
			if all {
				return r, true
			}
		}
	}
	return Rule{}, false
}

func ruleNamed(reason string) (Rule, bool) {
	for _, r := range Rules {
		if r.Reason == reason {
			return r, true
		}
	}
	return Rule{}, false
}

// errorLine: a line that reports an error (kept for a cause's message).
func errorLine(l string) bool {
	return strings.Contains(l, "ERROR") || strings.Contains(l, "Error") || strings.Contains(l, "error:") ||
		strings.Contains(l, "FATAL") || strings.Contains(l, "AADSTS") || strings.Contains(l, "Killed")
}

// announcedBatches reads the batch count ElasticBLAST announces before it creates the
// Jobs: "24 batches, 15234 base/residue total" (and "Re-computed …"), "Submitting 24
// sharded jobs", and the submit-jobs pod's "Submitted 24 jobs".
func announcedBatches(line string) (int, bool) {
	for _, p := range []struct{ before, after string }{
		{"", " batches, "},
		{"Submitting ", " sharded jobs"},
		{"Submitted ", " jobs"},
	} {
		i := strings.Index(line, p.after)
		if i <= 0 {
			continue
		}
		head := line[:i]
		if p.before != "" {
			j := strings.LastIndex(head, p.before)
			if j < 0 {
				continue
			}
			head = head[j+len(p.before):]
		} else if j := strings.LastIndexByte(head, ' '); j >= 0 {
			head = head[j+1:]
		}
		if n, err := strconv.Atoi(head); err == nil && n > 0 && n <= 10*MaxBatches {
			return n, true
		}
	}
	return 0, false
}

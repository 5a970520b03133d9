package diagnose

import (
	"fmt"
	"strconv"
	"strings"
)

// Cause kinds (docs/api.md §8).
const (
	KindContainer = "container" // a container instance ended badly
	KindEvent     = "event"     // a Warning event of one of the run's objects
	KindWaiting   = "waiting"   // a pod or container waits to start
	KindSubmit    = "submit"    // the elastic-blast submit command exited non-zero
)

// ReasonStalled is the reason of a container cause that stalled: running, with no
// CPU and no line for BLASTLOG_STALL_AFTER.
const ReasonStalled = "stalled"

// submitExits are elastic-blast's own exit codes (its documentation).
var submitExits = map[int]string{
	1:   "a configuration, query or option error",
	2:   "a BLAST database error",
	5:   "a timeout",
	6:   "an output files error",
	7:   "a missing dependency or a cloud vendor limit",
	8:   "a cluster communication error",
	9:   "it was interrupted",
	255: "an unknown error",
}

// blastExits are the BLAST+ programs' exit codes (blastn, blastp, ...).
var blastExits = map[int]string{
	1:   "an error in the query or the BLAST options",
	2:   "a BLAST database error",
	3:   "an error in the BLAST engine",
	4:   "BLAST ran out of memory",
	6:   "an error writing the output files",
	255: "an unknown BLAST error",
}

// ExitMeaning says what an exit code means for the kind of program that exited, ""
// when it is not one the table knows.
func ExitMeaning(kind string, code int) string {
	if kind == KindSubmit {
		return submitExits[code]
	}
	switch code {
	case 137:
		return "killed (SIGKILL: out of memory or a time limit)"
	case 143:
		return "terminated (SIGTERM)"
	}
	return blastExits[code]
}

// batchContainers are ElasticBLAST's batch containers: the blast container runs the
// BLAST program, and results-export exits with BLAST's own exit code.
func batchContainer(name string) bool { return name == "blast" || name == "results-export" }

// blastCode is the BLAST program's exit code behind a cause, when it is known to be
// one: the job script's "run end" line said it, or a batch container ended with
// Error and that code (ElasticBLAST passes BLAST's code on). 0 when not known.
func blastCode(c Cause, blastExit *int) int {
	if blastExit != nil && *blastExit != 0 {
		return *blastExit
	}
	if c.Kind == KindContainer && c.ExitCode != nil && (c.Reason == "Error" || c.Reason == "") && batchContainer(c.Container) {
		return *c.ExitCode
	}
	return 0
}

// hintFor is advice for a cause in ElasticBLAST's own terms (the hints table of
// docs/api.md §8), "" when the table has nothing to say. The cause's reason comes
// first, then its message (a Kubernetes message or the error line it was matched on),
// and an exit code only where reason and message leave it BLAST's or elastic-blast's.
func hintFor(c Cause, blastExit *int) string {
	msg := strings.ToLower(c.Message)
	switch c.Reason {
	case "OOMKilled":
		lim := ""
		if c.Limit != nil && c.Limit.Memory != "" {
			lim = " (it was " + c.Limit.Memory + ")"
		}
		return "The batch ran out of memory: raise mem-limit in the ElasticBLAST config" + lim +
			", or lower batch-len so that each batch needs less."
	case ReasonStalled:
		return "The batch runs but does nothing: it may wait for its database to load (vmtouch or the download in its last lines), " +
			"or for a slow or full disk on its node. Look at its last lines and at `kubectl describe pod` for its node; " +
			"deleting the pod makes its Job retry it."
	case "FailedScheduling", "Unschedulable":
		switch {
		case strings.Contains(msg, "quota"):
			return "The subscription's vCPU quota for this machine-type is used up: request more quota, or lower num-nodes."
		case strings.Contains(msg, "insufficient memory"):
			return "No node has the memory a batch asks for: choose a larger machine-type, or lower mem-request."
		case strings.Contains(msg, "insufficient cpu"):
			return "No node has the CPUs a batch asks for: choose a larger machine-type, or lower num-cpus."
		case strings.Contains(msg, "ephemeral-storage"):
			return "No node has the local disk a batch asks for: choose a machine-type with a larger local SSD."
		case strings.Contains(msg, "taint") || strings.Contains(msg, "affinity") || strings.Contains(msg, "selector"):
			return "No node matches the batch's placement rules: check the cluster's node pool for the machine-type."
		}
		return "The batch cannot be placed on a node yet; if this lasts, check num-nodes and machine-type."
	case "Evicted":
		if strings.Contains(msg, "ephemeral") || strings.Contains(msg, "disk") {
			return "The node ran out of local disk: choose a machine-type with a larger local SSD, or use a smaller database."
		}
		if strings.Contains(msg, "memory") {
			return "The node ran short of memory: raise mem-limit with a larger machine-type, or lower batch-len."
		}
		return "Kubernetes evicted the pod to protect its node; ElasticBLAST retries the batch."
	case "ImagePullBackOff", "ErrImagePull", "InvalidImageName":
		return "The container image cannot be pulled: check the image name and that the cluster may pull from its registry."
	case "CreateContainerConfigError":
		return "The pod refers to a secret or config map that does not exist in the namespace."
	case "CrashLoopBackOff", "BackOff":
		return "The container keeps failing right after it starts: read its last lines."
	case "FailedMount", "FailedAttachVolume":
		return "A volume could not be mounted: check the storage class and the persistent volume claims of the run."
	case "DeadlineExceeded":
		return "The batch reached ElasticBLAST's time limit for a job: raise the BLAST timeout in the config, or lower batch-len."
	case "BackoffLimitExceeded":
		return "The batch failed on every retry: the attempts' exit codes and last lines say why."
	case "Preempted":
		return "A higher-priority pod took the node (spot nodes are reclaimed like this): use regular nodes for the run."
	case "FailedCreate":
		return "Kubernetes could not create the batch's pod: quota or admission rules of the namespace refuse it."
	}
	if r, ok := ruleNamed(c.Reason); ok {
		return r.Hint
	}
	if r, ok := MatchMessage(c.Message); ok {
		return r.Hint
	}
	if c.ExitCode == nil || *c.ExitCode == 0 {
		return ""
	}
	code := *c.ExitCode
	if c.Kind == KindSubmit {
		switch code {
		case 1:
			return "elastic-blast submit refused its input: check the config file, the query file and the BLAST options."
		case 2:
			return "elastic-blast submit could not use the BLAST database: check the db name and that it is reachable."
		case 5:
			return "elastic-blast submit timed out: the cluster may be slow to start; try again, or raise the timeout."
		case 6:
			return "elastic-blast could not write the results: check the results bucket or container and its permissions."
		case 7:
			return "A tool or a cloud limit is missing: check that az and kubectl are installed and the subscription's quota."
		case 8:
			return "elastic-blast could not talk to the cluster: check the cluster is running and your credentials for it."
		case 9:
			return "elastic-blast submit was interrupted: submit the run again."
		}
		return ""
	}
	switch blastCode(c, blastExit) {
	case 1:
		return "BLAST refused the query or its options: check the query file and the options in the config."
	case 2:
		return "BLAST could not read its database: check the db name and that the database was staged on the node."
	case 3:
		return "BLAST's engine failed: read the batch's last lines; retrying the batch may help."
	case 4:
		return "BLAST ran out of memory: raise mem-limit in the ElasticBLAST config, or lower batch-len."
	case 6:
		return "BLAST could not write its output: check the node's disk and the results location."
	}
	if code == 137 {
		return "The container was killed (SIGKILL): by the kubelet for memory, or for its time limit; its last lines and the run's events say which."
	}
	return "The container exited with " + strconv.Itoa(code) + ": its last lines say why."
}

// describe is a cause in a few words for a headline: "was OOMKilled (exit 137, peak
// 61.8 of 62Gi)", "exited with 2 (a BLAST database error)".
func describe(c Cause) string {
	var b strings.Builder
	switch {
	case c.Reason == "OOMKilled":
		b.WriteString("was OOMKilled")
	case c.Kind == KindContainer && c.ExitCode != nil:
		fmt.Fprintf(&b, "exited with %d", *c.ExitCode)
		if r, ok := MatchMessage(c.Message); ok {
			fmt.Fprintf(&b, " (%s)", r.Headline)
		} else if m := ExitMeaning(c.Kind, blastCode(c, nil)); blastCode(c, nil) != 0 && m != "" {
			fmt.Fprintf(&b, " (%s)", m)
		}
		if c.Reason != "" && c.Reason != "Error" {
			fmt.Fprintf(&b, ", %s", c.Reason)
		}
		return b.String()
	case c.Reason != "":
		b.WriteString("failed: " + c.Reason)
	default:
		b.WriteString("failed")
	}
	var extra []string
	if c.ExitCode != nil {
		extra = append(extra, fmt.Sprintf("exit %d", *c.ExitCode))
	}
	if c.Reason == "OOMKilled" {
		if p := peakText(c); p != "" {
			extra = append(extra, p)
		} else if c.Limit != nil && c.Limit.Memory != "" {
			extra = append(extra, "limit "+c.Limit.Memory)
		}
	}
	if len(extra) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(extra, ", "))
	}
	return b.String()
}

// peakText is a memory cause's peak against its limit: "peak 61.8 of 62Gi" when both
// are in the same unit, "peak 900Mi of 62Gi" otherwise, "peak 61.8Gi" without a
// limit; "" without a sample.
func peakText(c Cause) string {
	if c.Peak == nil || c.Peak.Memory == "" {
		return ""
	}
	if c.Limit == nil || c.Limit.Memory == "" {
		return "peak " + c.Peak.Memory
	}
	num := strings.TrimRight(c.Peak.Memory, "KMGTi")
	if unit := c.Peak.Memory[len(num):]; unit != "" && strings.HasSuffix(c.Limit.Memory, unit) {
		return "peak " + num + " of " + c.Limit.Memory
	}
	return "peak " + c.Peak.Memory + " of " + c.Limit.Memory
}

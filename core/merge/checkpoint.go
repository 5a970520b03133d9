package merge

import "github.com/blastlog/blastlog/core/sanitize"

// Checkpoint is what the collector keeps of one target across replicas: the dedupe
// Cursor (its fields at the top level, so checkpoints written as a bare Cursor still
// read), whether the first read was a tail (lines before it were never read), whether
// a resume found its second gone (the kubelet rotated the log: lines were lost), and
// whether the target's container_ended notice is stored.
type Checkpoint struct {
	Cursor
	Tailed  bool `json:"tailed,omitempty"`
	Rotated bool `json:"rotated,omitempty"`
	Ended   bool `json:"ended,omitempty"`
	// Sanitizer is the state of the target's line sanitiser: a takeover that resumes
	// inside a private key block keeps masking it.
	Sanitizer sanitize.Stream `json:"sanitizer"`
}

// Clone is a copy that shares nothing with c.
func (c Checkpoint) Clone() Checkpoint {
	out := c
	out.Seen = make(map[uint64]int, len(c.Seen))
	for k, v := range c.Seen {
		out.Seen[k] = v
	}
	return out
}

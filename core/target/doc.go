// Package target decides, from plain descriptions of pods, which containers belong to
// an ElasticBLAST run, in which execution step, and in which order to follow them.
// Only the server discovers: nothing here takes a pod name from a client.
package target

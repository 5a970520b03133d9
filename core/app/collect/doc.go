// Package collect is the Kubernetes collector use case: the pods of a run followed,
// every line appended once to its log, one collector per run across replicas.
package collect

// Package demo plays representative ElasticBLAST runs for the dev stack: the submit
// output of the fixture beside this file through the real publisher code path, then
// the run's pods — setup, submit, the batch jobs, the finalizer — on the Kubernetes
// simulator, where the real collector follows them.
package demo

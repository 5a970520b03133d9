// Command blastlog-stream is the streaming container: it redeems tickets and serves
// each run's log as Server-Sent Events (and snapshots), fanned in through one shared
// reader per container. -dev runs the whole system in one process: an embedded Redis,
// dev-bypass auth, the ticket route and a demo ElasticBLAST run.
package main

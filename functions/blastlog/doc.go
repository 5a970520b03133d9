// Command blastlog follows and reads ElasticBLAST runs from a terminal or a script,
// over blastlog's HTTP API (package apiclient): the submit process and every pod,
// deleted ones too, with Entra ID sign-in.
//
//	blastlog runs
//	blastlog logs RUN -f
//	blastlog status RUN --wait
//	blastlog search RUN TEXT
//	blastlog download RUN -O run.txt
//
// Exit codes: 0 ok (with --wait or -f: the run succeeded), 1 the run failed or was
// cancelled, 2 usage, 3 not found or not yours, 4 unauthorized, 5 server unavailable
// after retries, 130 interrupted.
package main

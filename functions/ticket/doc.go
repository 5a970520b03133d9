// Command blastlog-ticket is the ticket function: POST /api/blast/logs/{job_id}/ticket
// for an Entra ID (MSAL) caller who owns the job. With AWS_LAMBDA_RUNTIME_API set it
// runs as an AWS Lambda function (API Gateway HTTP API or function URL); otherwise it
// listens on BLASTLOG_ADDR. Both run the same handler.
package main

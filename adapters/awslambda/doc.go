// Package awslambda serves an http.Handler as an AWS Lambda function behind API
// Gateway HTTP APIs (payload format 2.0) or a Lambda function URL in BUFFERED mode,
// which share that event shape. Responses are buffered: this is for short answers like
// tickets, not for streams (lambdaurl.Wrap covers RESPONSE_STREAM URLs only).
package awslambda

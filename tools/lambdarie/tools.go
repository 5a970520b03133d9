//go:build tools

// Package tools pins the Lambda Runtime Interface Emulator for the ticket function's
// tests.
package tools

import _ "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"

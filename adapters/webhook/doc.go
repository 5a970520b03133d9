// Package webhook sends a run's notifications (core/app/notify) to HTTPS webhooks in
// one of three formats — blastlog's own JSON, a Microsoft Teams message with an
// Adaptive Card (Incoming Webhook or Workflows), a Slack Incoming Webhook message —
// signed with HMAC-SHA256 when a secret is set. Receivers verify with Verify.
package webhook

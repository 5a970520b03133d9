// Package sanitizetest is the secret corpus the sanitiser is held to: every known
// shape of secret in every context a line can hold it in (docs/api.md §5). The
// sanitiser's own tests and the gitleaks cross-check (tools/gitleaks) read it.
package sanitizetest

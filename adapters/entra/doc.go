// Package entra authenticates callers with Microsoft Entra ID (MSAL) access tokens, and
// offers the dev-bypass authenticator for local development.
package entra

// Package entratest plays Microsoft Entra ID for tests: an OpenID key set server with
// keys generated in the test, and access tokens minted with them.
package entratest

// Package arch holds the test that keeps the import direction of docs/architecture.md:
// core <- ports <- core/app <- adapters <- functions, and adapters apart.
package arch

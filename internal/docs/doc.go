// Package docs holds the tests that keep the README and docs/ true to the code and
// readable in a clone with nothing beside it.
package docs

// Package web is the Run details page and its JS client (ES modules, no build step),
// embedded in the binary and served by the streaming container.
package web

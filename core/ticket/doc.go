// Package ticket owns the single-use stream tickets: how they are minted, what is
// stored of them (only a hash), and the rules of redeeming one. A browser's
// EventSource cannot send a bearer token; a ticket stands in for it for seconds.
package ticket

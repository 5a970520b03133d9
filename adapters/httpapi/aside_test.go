package httpapi

import "testing"

// aside runs its function to completion before it returns, and a panic in it is
// raised again in the caller (where net/http's per-connection recovery sees it).
func TestAsideWaitsAndRaisesPanics(t *testing.T) {
	n := 0
	aside(func() { n++ })
	if n != 1 {
		t.Fatal("aside returned before its function ran")
	}
	defer func() {
		if p := recover(); p != "boom" {
			t.Fatalf("recovered %v", p)
		}
	}()
	aside(func() { panic("boom") })
	t.Fatal("the panic was swallowed")
}

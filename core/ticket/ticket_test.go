package ticket

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestMint(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		tk, h, err := Mint()
		if err != nil {
			t.Fatal(err)
		}
		if len(tk) < 43 || !WellFormed(tk) || h != Hash(tk) || len(h) != 64 || strings.Contains(h, tk) {
			t.Fatalf("ticket %q hash %q", tk, h)
		}
		if seen[tk] {
			t.Fatal("duplicate ticket")
		}
		seen[tk] = true
	}
	// The hash of the contract: hex SHA-256 of the string as handed out.
	if Hash("abc") != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatal("not hex SHA-256")
	}
}

func TestWellFormed(t *testing.T) {
	good, _, _ := Mint()
	for _, s := range []string{"", "short", good + "A", good[:42] + "=", good[:42] + "+", strings.Repeat("a", 1<<20)} {
		if WellFormed(s) {
			t.Errorf("%.50q accepted", s)
		}
	}
}

func TestCheck(t *testing.T) {
	now := time.Now()
	r, err := New("run-1", "oid", "tid", now, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := Check(r, "run-1", now.Add(29*time.Second)); err != nil {
		t.Fatalf("valid ticket: %v", err)
	}
	for name, c := range map[string]struct {
		r   Record
		job string
		at  time.Time
	}{
		"other job":  {r, "run-2", now},
		"expired":    {r, "run-1", now.Add(30 * time.Second)},
		"unknown":    {Record{}, "run-1", now},
		"empty jobs": {Record{ExpiresAt: now.Add(time.Hour)}, "", now},
	} {
		if err := Check(c.r, c.job, c.at); !errors.Is(err, ErrRejected) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := New("run-1", "o", "t", now, time.Second); err == nil {
		t.Error("TTL below 5s accepted")
	}
	if _, err := New("", "o", "t", now, time.Minute); err == nil {
		t.Error("empty job accepted")
	}
}

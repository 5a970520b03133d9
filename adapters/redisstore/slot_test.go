package redisstore

import "testing"

// Values from the Redis Cluster specification and CLUSTER KEYSLOT.
func TestSlot(t *testing.T) {
	for key, want := range map[string]uint16{"123456789": 0x31C3 % 16384, "foo": 12182, "{user1000}.following": slot("user1000"),
		"bar": 5061, "{user1000}.followers": slot("user1000")} {
		if got := slot(key); got != want {
			t.Errorf("slot(%q) = %d want %d", key, got, want)
		}
	}
}

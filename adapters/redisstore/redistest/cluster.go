package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cluster is a private Redis Cluster of three masters (no replicas) on loopback,
// stopped when the test ends.
type Cluster struct {
	Addrs []string
	nodes []*Server
}

// URL is the cluster's redis+cluster:// URL, every node a seed.
func (c *Cluster) URL() string {
	return "redis+cluster://" + c.Addrs[0] + "?addr=" + strings.Join(c.Addrs[1:], "&addr=")
}

// Client returns a cluster client closed when the test ends.
func (c *Cluster) Client(t testing.TB) *redis.ClusterClient {
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
	t.Cleanup(func() { cc.Close() })
	return cc
}

// FlushAll empties every master.
func (c *Cluster) FlushAll(t testing.TB) {
	t.Helper()
	for _, n := range c.nodes {
		cl := redis.NewClient(&redis.Options{Addr: n.Addr})
		err := cl.FlushAll(context.Background()).Err()
		cl.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// StartCluster starts three redis-server nodes in cluster mode and joins them with
// redis-cli --cluster create. There is no embedded fallback: without redis-server and
// redis-cli the test is skipped, or fails under CI.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	cli, err2 := exec.LookPath("redis-cli")
	if err != nil || err2 != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("redis-server and redis-cli must be on PATH in CI (apt-get install -y redis-server): %v %v", err, err2)
		}
		t.Skip("a Redis Cluster needs redis-server and redis-cli on PATH (the redis-server package)")
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		c, err := startCluster(t, bin, cli)
		if err == nil {
			return c
		}
		lastErr = err
	}
	t.Fatalf("starting a Redis Cluster: %v", lastErr)
	return nil
}

func startCluster(t testing.TB, bin, cli string) (*Cluster, error) {
	c := &Cluster{}
	for i := 0; i < 3; i++ {
		port, err := clusterPort()
		if err != nil {
			return nil, err
		}
		s := &Server{Addr: fmt.Sprintf("127.0.0.1:%d", port), Real: true, bin: bin, dir: t.TempDir(),
			extra: []string{"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000"}}
		if err := s.launch(fmt.Sprint(port)); err != nil {
			c.stop()
			return nil, err
		}
		c.nodes, c.Addrs = append(c.nodes, s), append(c.Addrs, s.Addr)
	}
	t.Cleanup(c.stop)
	out, err := exec.Command(cli, append(append([]string{"--cluster", "create"}, c.Addrs...), "--cluster-yes")...).CombinedOutput()
	if err != nil {
		c.stop()
		return nil, fmt.Errorf("redis-cli --cluster create: %v: %s", err, out)
	}
	// Every node must agree the cluster is whole before a client is handed out.
	deadline := time.Now().Add(15 * time.Second)
	for _, n := range c.nodes {
		cl := redis.NewClient(&redis.Options{Addr: n.Addr})
		for {
			info, err := cl.ClusterInfo(context.Background()).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				cl.Close()
				c.stop()
				return nil, fmt.Errorf("node %s not ok after 15 s: %v %s", n.Addr, err, info)
			}
			time.Sleep(50 * time.Millisecond)
		}
		cl.Close()
	}
	return c, nil
}

func (c *Cluster) stop() {
	for _, n := range c.nodes {
		n.Stop()
	}
}

// clusterPort is a free port whose cluster bus port (port+10000) is free too.
func clusterPort() (int, error) {
	for i := 0; i < 50; i++ {
		p, err := freePort()
		if err != nil {
			return 0, err
		}
		if p+10000 > 65535 {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+10000))
		if err != nil {
			continue
		}
		l.Close()
		return p, nil
	}
	return 0, fmt.Errorf("no free port pair (port, port+10000) found")
}

package kubetest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/blastlog/blastlog/adapters/kube/kubesim"
)

// Versions built by tools/k8s/build.sh.
const (
	APIServerVersion = "v1.35.4"
	EtcdVersion      = "v3.6.5"
	AdminToken       = "blastlog-admin-token"
	NodeName         = "stub-node"
	NodeType         = "Standard_E32s_v3" // its node.kubernetes.io/instance-type
)

// BinDir is where the binaries are: BLASTLOG_K8S_BIN, else the user cache dir.
func BinDir() string {
	if d := os.Getenv("BLASTLOG_K8S_BIN"); d != "" {
		return d
	}
	cache, _ := os.UserCacheDir()
	return filepath.Join(cache, "blastlog", "k8s", "apiserver-"+APIServerVersion+"-etcd-"+EtcdVersion)
}

// ErrNoBinaries: run go tool task k8s:binaries first.
var ErrNoBinaries = errors.New("kube-apiserver and etcd are not built (go tool task k8s:binaries)")

// ControlPlane is a running etcd + kube-apiserver + stub kubelet.
type ControlPlane struct {
	Admin   *rest.Config // system:masters
	EtcdURL string       // etcd's client URL (its v3 JSON gateway compacts, for expiry tests)
	Sim     *kubesim.Sim // the kubelet's logs and the pods' states
	dir     string
	etcd    *exec.Cmd
	api     *exec.Cmd
	kubelet *httptest.Server
	metrics *httptest.Server
	Started time.Duration
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start starts the control plane; Stop must follow (even when a test fails).
func Start() (*ControlPlane, error) {
	bin := BinDir()
	for _, b := range []string{"etcd", "kube-apiserver"} {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			return nil, fmt.Errorf("%w: %s missing in %s", ErrNoBinaries, b, bin)
		}
	}
	begin := time.Now()
	dir, err := os.MkdirTemp("", "blastlog-controlplane")
	if err != nil {
		return nil, err
	}
	cp := &ControlPlane{dir: dir, Sim: kubesim.New()}
	fail := func(err error) (*ControlPlane, error) { cp.Stop(); return nil, err }

	var ports [3]int
	for i := range ports {
		if ports[i], err = freePort(); err != nil {
			return fail(err)
		}
	}
	client, peer := fmt.Sprintf("http://127.0.0.1:%d", ports[0]), fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	cp.etcd = exec.Command(filepath.Join(bin, "etcd"), "--name", "default", "--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", "default="+peer,
		"--log-level", "error")
	if err := startLogged(cp.etcd, filepath.Join(dir, "etcd.log")); err != nil {
		return fail(err)
	}
	if err := waitHTTP(client+"/health", nil, 30*time.Second); err != nil {
		return fail(fmt.Errorf("etcd: %w (log %s)", err, filepath.Join(dir, "etcd.log")))
	}

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return fail(err)
	}
	pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	os.WriteFile(filepath.Join(dir, "sa.key"), pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600)
	os.WriteFile(filepath.Join(dir, "sa.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o600)
	os.WriteFile(filepath.Join(dir, "tokens.csv"), []byte(AdminToken+",admin,admin,system:masters\n"), 0o600)
	secure := fmt.Sprintf("https://127.0.0.1:%d", ports[2])
	cp.api = exec.Command(filepath.Join(bin, "kube-apiserver"),
		"--etcd-servers="+client, "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(ports[2]), "--cert-dir="+filepath.Join(dir, "certs"),
		"--service-account-key-file="+filepath.Join(dir, "sa.pub"),
		"--service-account-signing-key-file="+filepath.Join(dir, "sa.key"),
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--authorization-mode=RBAC", "--token-auth-file="+filepath.Join(dir, "tokens.csv"),
		"--kubelet-preferred-address-types=InternalIP", "--service-cluster-ip-range=10.96.0.0/16",
		// No controller-manager creates "default" service accounts: do not require them.
		"--disable-admission-plugins=ServiceAccount", "--v=0",
		// Pod watches go straight to etcd, so that compacting etcd expires them (410).
		"--watch-cache-sizes=pods#0")
	if err := startLogged(cp.api, filepath.Join(dir, "apiserver.log")); err != nil {
		return fail(err)
	}
	if err := waitHTTP(secure+"/readyz", map[string]string{"Authorization": "Bearer " + AdminToken}, 60*time.Second); err != nil {
		return fail(fmt.Errorf("kube-apiserver: %w (log %s)", err, filepath.Join(dir, "apiserver.log")))
	}
	cp.EtcdURL = client
	cp.Admin = &rest.Config{Host: secure, BearerToken: AdminToken, TLSClientConfig: rest.TLSClientConfig{Insecure: true},
		QPS: 200, Burst: 400}

	// The stub kubelet: HTTPS with a self-signed certificate, which the API server does
	// not verify (no --kubelet-certificate-authority).
	cp.kubelet = httptest.NewTLSServer(cp.Sim.KubeletHandler())
	_, portText, _ := net.SplitHostPort(cp.kubelet.Listener.Addr().String())
	kport, _ := strconv.Atoi(portText)
	cs, err := kubernetes.NewForConfig(cp.Admin)
	if err != nil {
		return fail(err)
	}
	ctx := context.Background()
	// An AKS node of ElasticBLAST's default machine type, by its well-known labels.
	node, err := cs.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: NodeName,
		Labels: map[string]string{"node.kubernetes.io/instance-type": NodeType, "topology.kubernetes.io/region": "eastus",
			"kubernetes.azure.com/scalesetpriority": "regular"}}}, metav1.CreateOptions{})
	if err != nil {
		return fail(err)
	}
	node.Status = corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(kport)}},
		Conditions:      []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}
	if _, err := cs.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		return fail(err)
	}
	if err := cp.serveMetrics(ctx); err != nil {
		return fail(fmt.Errorf("metrics.k8s.io: %w (log %s)", err, filepath.Join(dir, "apiserver.log")))
	}
	cp.Started = time.Since(begin)
	return cp, nil
}

// RestartAPIServer SIGKILLs kube-apiserver and, after down, starts it again with the
// same flags, port, certificates and etcd — a crashed or upgraded control plane: every
// client's watches and log streams break, and the data is all there afterwards.
func (cp *ControlPlane) RestartAPIServer(down time.Duration) error {
	args := cp.api.Args
	cp.api.Process.Kill()
	cp.api.Wait()
	time.Sleep(down)
	cp.api = exec.Command(args[0], args[1:]...)
	log := filepath.Join(cp.dir, "apiserver-restarted.log")
	if err := startLogged(cp.api, log); err != nil {
		return err
	}
	if err := waitHTTP(cp.Admin.Host+"/readyz", map[string]string{"Authorization": "Bearer " + AdminToken}, 60*time.Second); err != nil {
		return fmt.Errorf("kube-apiserver after a restart: %w (log %s)", err, log)
	}
	return nil
}

// Stop ends the API server before etcd, and removes everything. Safe on a partial start.
func (cp *ControlPlane) Stop() {
	for _, c := range []*exec.Cmd{cp.api, cp.etcd} {
		if c != nil && c.Process != nil {
			c.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { c.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				c.Process.Kill()
				<-done
			}
		}
	}
	if cp.metrics != nil {
		cp.metrics.Close()
	}
	if cp.kubelet != nil {
		cp.kubelet.Close()
	}
	if cp.Sim != nil {
		cp.Sim.Close()
	}
	os.RemoveAll(cp.dir)
}

func startLogged(c *exec.Cmd, logPath string) error {
	f, err := os.Create(logPath)
	if err != nil {
		return err
	}
	c.Stdout, c.Stderr = f, f
	c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // no orphans if the test binary dies
	return c.Start()
}

func waitHTTP(url string, headers map[string]string, timeout time.Duration) error {
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		res, err := hc.Do(req)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("HTTP %d", res.StatusCode)
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("not ready after %v: %v", timeout, last)
}

// Compact compacts etcd up to its current revision: every older resourceVersion expires.
func (cp *ControlPlane) Compact() error {
	res, err := http.Post(cp.EtcdURL+"/v3/kv/range", "application/json", strings.NewReader(`{"key":"AA=="}`))
	if err != nil {
		return err
	}
	var r struct {
		Header struct {
			Revision string `json:"revision"`
		} `json:"header"`
	}
	err = json.NewDecoder(res.Body).Decode(&r)
	res.Body.Close()
	if err != nil {
		return err
	}
	res, err = http.Post(cp.EtcdURL+"/v3/kv/compaction", "application/json",
		strings.NewReader(`{"revision":"`+r.Header.Revision+`","physical":true}`))
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("etcd compaction: HTTP %d", res.StatusCode)
	}
	return nil
}

// serveMetrics puts a stand-in metrics-server behind the API server's aggregator, as
// AKS runs one: the simulator's PodMetrics over HTTPS, an ExternalName Service for
// it (the aggregator reaches a service by its cluster IP, which nothing routes here,
// or by an ExternalName) and the APIService v1beta1.metrics.k8s.io; it returns once
// the aggregator finds it available. Clients list PodMetrics from the API server,
// which proxies the request.
func (cp *ControlPlane) serveMetrics(ctx context.Context) error {
	cp.metrics = httptest.NewTLSServer(cp.Sim.MetricsHandler())
	_, portText, _ := net.SplitHostPort(cp.metrics.Listener.Addr().String())
	port, _ := strconv.Atoi(portText)
	cs, err := kubernetes.NewForConfig(cp.Admin)
	if err != nil {
		return err
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "metrics-server", Namespace: "kube-system"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "localhost",
			Ports: []corev1.ServicePort{{Name: "https", Port: int32(port)}}}}
	if _, err := cs.CoreV1().Services("kube-system").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(cp.Admin)
	if err != nil {
		return err
	}
	apiServices := dyn.Resource(schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"})
	api := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
		"metadata": map[string]any{"name": "v1beta1.metrics.k8s.io"},
		"spec": map[string]any{"group": "metrics.k8s.io", "version": "v1beta1", "insecureSkipTLSVerify": true,
			"groupPriorityMinimum": int64(100), "versionPriority": int64(100),
			"service": map[string]any{"namespace": "kube-system", "name": "metrics-server", "port": int64(port)}}}}
	if _, err := apiServices.Create(ctx, api, metav1.CreateOptions{}); err != nil {
		return err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		got, err := apiServices.Get(ctx, "v1beta1.metrics.k8s.io", metav1.GetOptions{})
		if err == nil {
			conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
			for _, c := range conds {
				if m, ok := c.(map[string]any); ok && m["type"] == "Available" && m["status"] == "True" {
					return nil
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the APIService never became available: %v", got)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"

	"github.com/blastlog/blastlog/adapters/kube/kubesim"
	"github.com/blastlog/blastlog/adapters/kube/kubetest"
	"github.com/blastlog/blastlog/adapters/redisstore"
	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/core/target"
)

// shippedRBAC applies infra/k8s/base/rbac.yaml in ns (optionally without pods/log)
// and returns a rest config that authenticates as its ServiceAccount.
func shippedRBAC(t *testing.T, admin *rest.Config, ns string, withoutLogs bool) *rest.Config {
	t.Helper()
	raw, err := os.ReadFile("../../infra/k8s/base/rbac.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return applyRBAC(t, admin, ns, strings.Split(string(raw), "\n---"), withoutLogs)
}

// applyRBAC creates the ServiceAccount, Role and RoleBinding among docs in ns, and
// their ClusterRoles and ClusterRoleBindings under names of ns's own, and returns a
// rest config that authenticates as the ServiceAccount; other kinds are left out.
func applyRBAC(t *testing.T, admin *rest.Config, ns string, docs []string, withoutLogs bool) *rest.Config {
	t.Helper()
	cs, _ := kubernetes.NewForConfig(admin)
	ctx := context.Background()
	var sa string
	for _, doc := range docs {
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode([]byte(doc), nil, nil)
		if err != nil {
			continue // not a built-in kind (or empty): not RBAC
		}
		switch o := obj.(type) {
		case *corev1.ServiceAccount:
			o.Namespace, sa = ns, o.Name
			_, err = cs.CoreV1().ServiceAccounts(ns).Create(ctx, o, metav1.CreateOptions{})
		case *rbacv1.Role:
			o.Namespace = ns
			if withoutLogs {
				var rules []rbacv1.PolicyRule
				for _, r := range o.Rules {
					if !contains(r.Resources, "pods/log") {
						rules = append(rules, r)
					}
				}
				o.Rules = rules
			}
			_, err = cs.RbacV1().Roles(ns).Create(ctx, o, metav1.CreateOptions{})
		case *rbacv1.RoleBinding:
			o.Namespace = ns
			for i := range o.Subjects {
				o.Subjects[i].Namespace = ns
			}
			_, err = cs.RbacV1().RoleBindings(ns).Create(ctx, o, metav1.CreateOptions{})
		case *rbacv1.ClusterRole:
			// Cluster-wide (the nodes' reader): named after the test's namespace.
			o.Name += "-" + ns
			_, err = cs.RbacV1().ClusterRoles().Create(ctx, o, metav1.CreateOptions{})
		case *rbacv1.ClusterRoleBinding:
			o.Name += "-" + ns
			o.RoleRef.Name += "-" + ns
			for i := range o.Subjects {
				o.Subjects[i].Namespace = ns
			}
			_, err = cs.RbacV1().ClusterRoleBindings().Create(ctx, o, metav1.CreateOptions{})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	exp := int64(3600)
	tok, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: &exp}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := &rest.Config{Host: admin.Host, BearerToken: tok.Status.Token, TLSClientConfig: rest.TLSClientConfig{Insecure: true}}
	// RBAC is enforced as soon as the authorizer has seen the binding.
	sacs, _ := kubernetes.NewForConfig(cfg)
	for i := 0; i < 50; i++ {
		if _, err := sacs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{}); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return cfg
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func TestShippedRBACIsEnoughAndMissingLogsIsDegraded(t *testing.T) {
	cp := realPlane(t)
	for _, withoutLogs := range []bool{false, true} {
		name := map[bool]string{false: "shipped role", true: "without pods/log"}[withoutLogs]
		t.Run(name, func(t *testing.T) {
			m := cp.NewMirror()
			evs := followAs(t, m, shippedRBAC(t, cp.Admin, m.Namespace, withoutLogs))
			var k8s, terminal int
			var degraded string
			for _, e := range evs {
				switch {
				case e.Source == event.SourceK8s:
					k8s++
				case e.Source == event.SourceTerminal:
					terminal++
				case e.Notice == "degraded":
					degraded = e.Line
				}
			}
			if terminal != 1 {
				t.Fatalf("the rest of the stream: %d terminal lines", terminal)
			}
			if !withoutLogs && (k8s != 3 || degraded != "") {
				t.Fatalf("with the shipped role: %d k8s lines, degraded %q", k8s, degraded)
			}
			if withoutLogs && (k8s != 0 || !strings.Contains(degraded, "pods/log get")) {
				t.Fatalf("without pods/log: %d k8s lines, degraded %q", k8s, degraded)
			}
		})
	}
}

// followAs collects run-k, a submit line and one batch pod's three lines, on m's
// namespace with the collector authenticated by cfg, and returns the run's events.
func followAs(t *testing.T, m *kubetest.Mirror, cfg *rest.Config) []event.Event {
	t.Helper()
	k := newK(t, m, cfg, m.Namespace)
	wait, _ := collectRun(t, k.collector(t, "rbac", 8))
	pod := "blastn-batch-nt-job-000-" + suffix + "-r"
	m.AddPod(kubesim.PodSpec{Name: pod, Main: []string{"blast"}, Labels: map[string]string{target.LabelJobID: elbID}})
	m.Start("", pod, "blast")
	m.Log("", pod, "blast", "one", "two", "three")
	k.publish(t, "submitted\n", "lines", "--job", "run-k", "--phase", "submitting")
	time.Sleep(300 * time.Millisecond)
	m.Terminate("", pod, "blast", 0)
	k.finish(t)
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	evs, _ := redisstore.NewEventLog(k.rdb, redisstore.Config{}).Read(context.Background(), "run-k", event.ID{}, 1000)
	return evs
}

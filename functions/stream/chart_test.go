package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"github.com/blastlog/blastlog/core/event"
	"github.com/blastlog/blastlog/internal/testio"
)

const chart = "../../infra/helm/blastlog"

// testArchiveURL is the archive the chart's renders name (it is required).
const testArchiveURL = "https://blastlogtest.blob.core.windows.net/job-artifacts"

// render is helm template of the chart in ns with set, split into its documents.
func render(t *testing.T, helm, ns string, set ...string) []string {
	t.Helper()
	args := []string{"template", "blastlog", chart, "--namespace", ns, "--set", "archive.url=" + testArchiveURL}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(helm, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm %v: %v\n%s", args, err, stderr.String())
	}
	var docs []string
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(out)))
	for {
		doc, err := r.Read()
		if err == io.EOF {
			return docs
		}
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if yaml.Unmarshal(doc, &m) == nil && len(m) > 0 { // not a comment alone
			docs = append(docs, string(doc))
		}
	}
}

// The chart lints, refuses values of the wrong type by name, and every object of
// the default values and of its variants passes a server-side dry run on a real
// kube-apiserver; its Role grants what the kustomize base grants; and the collector,
// authenticated as the chart's ServiceAccount under the chart's RBAC, follows a run.
func TestHelmChart(t *testing.T) {
	helm := testio.Tool(t, "helm")
	if out, err := exec.Command(helm, "lint", chart, "--strict", "--set", "archive.url="+testArchiveURL).CombinedOutput(); err != nil {
		t.Fatalf("helm lint: %v\n%s", err, out)
	}
	for set, want := range map[string]string{"replicaCount=one": "/replicaCount", "replicaCount=1": "/replicaCount",
		"rbac.clusterWide=maybe": "/rbac/clusterWide", "config.BLASTLOG_REDIS_URL=redis://x": "/config/BLASTLOG_REDIS_URL",
		"config.BLASTLOG_K8S=everywhere": "/config/BLASTLOG_K8S", "service.port=http": "/service/port", "bogus=1": "bogus",
		// An archive is asked for by name: the URL, or enabled=false said out loud.
		"archive.enabled=true": "/archive/url", "archive.url=ftp://x": "/archive/url",
		"config.BLASTLOG_ARCHIVE=off":                  "/config/BLASTLOG_ARCHIVE",
		"signIn.publicUrl=http://blastlog.example.org": "/signIn/publicUrl", "config.BLASTLOG_PUBLIC_URL=https://x": "/config/BLASTLOG_PUBLIC_URL",
		"ingress.hosts[0].paths[0].path=api": "/ingress/hosts/0/paths/0/path"} {
		out, err := exec.Command(helm, "template", "x", chart, "--set", set).CombinedOutput()
		if err == nil || !strings.Contains(string(out), want) {
			t.Errorf("--set %s: %v %s", set, err, out)
		}
	}
	// The binaries learn the container's memory limit (their Go runtime takes 90% of it).
	for _, doc := range render(t, helm, "default", "ticket.enabled=true") {
		if strings.Contains(doc, "kind: Deployment") && !strings.Contains(doc, "name: BLASTLOG_MEMORY_LIMIT\n              valueFrom:\n                resourceFieldRef:") {
			t.Errorf("a Deployment without BLASTLOG_MEMORY_LIMIT:\n%s", doc)
		}
	}
	// The ticket route: the ticket function's when it is enabled, else the streaming
	// container serves it; the sign-in's values reach both binaries.
	ingress := []string{"ingress.enabled=true", "ingress.className=nginx", "ingress.tls[0].secretName=blastlog-tls",
		"ingress.tls[0].hosts[0]=blastlog.example.org", "signIn.pageClientId=page-app", "signIn.authority=https://login.microsoftonline.us/"}
	alone := strings.Join(render(t, helm, "default", ingress...), "\n---\n")
	if !strings.Contains(alone, "name: BLASTLOG_STREAM_TICKETS\n              value: \"on\"") || strings.Contains(alone, "-ticket") ||
		strings.Contains(alone, "use-regex") || !strings.Contains(alone, "name: BLASTLOG_PUBLIC_URL\n              value: \"https://blastlog.example.org\"") {
		t.Errorf("without the ticket function the streaming container must serve tickets, behind the Ingress:\n%s", alone)
	}
	withTicket := render(t, helm, "default", append(ingress, "ticket.enabled=true")...)
	for _, doc := range withTicket {
		switch {
		case strings.Contains(doc, "kind: Ingress") && !strings.Contains(doc, "- path: /api/blast/logs/[^/]+/ticket\n            pathType: ImplementationSpecific\n            backend:\n              service:\n                name: blastlog-ticket"):
			t.Errorf("the ticket route does not go to the ticket function:\n%s", doc)
		case strings.Contains(doc, "kind: Deployment") && (strings.Contains(doc, "BLASTLOG_STREAM_TICKETS") ||
			!strings.Contains(doc, "name: BLASTLOG_PAGE_CLIENT_ID\n              value: \"page-app\"") ||
			!strings.Contains(doc, "name: BLASTLOG_ENTRA_AUTHORITY\n              value: \"https://login.microsoftonline.us\"")):
			t.Errorf("a Deployment without the sign-in's values, or serving tickets beside the ticket function:\n%s", doc)
		}
	}
	if out, err := exec.Command(helm, "template", "x", chart, "--set", "archive.enabled=false").CombinedOutput(); err != nil ||
		!strings.Contains(string(out), "name: BLASTLOG_ARCHIVE\n              value: \"off\"") {
		t.Errorf("archive.enabled=false: %v %s", err, out)
	}
	cp := realPlane(t)
	cs, _ := kubernetes.NewForConfig(cp.Admin)
	dyn, _ := dynamic.NewForConfig(cp.Admin)
	ctx := context.Background()
	installServiceMonitorCRD(t, cp.Admin)
	for name, set := range map[string][]string{
		"defaults":       nil,
		"cluster-wide":   {"rbac.clusterWide=true"},
		"servicemonitor": {"serviceMonitor.enabled=true", "networkPolicy.enabled=true"},
		"ticket":         {"ticket.enabled=true", "secretEnv.BLASTLOG_REDIS_URL.name=blastlog", "secretEnv.BLASTLOG_REDIS_URL.key=redis-url"},
		"no-archive":     {"archive.enabled=false"},
		"ingress": {"ticket.enabled=true", "ingress.enabled=true", "ingress.className=nginx", "ingress.tls[0].secretName=blastlog-tls",
			"ingress.tls[0].hosts[0]=blastlog.example.org", "signIn.publicUrl=https://blastlog.example.org",
			"signIn.pageClientId=page-app", "signIn.authority=https://login.microsoftonline.us"},
	} {
		ns := "chart-" + name
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
		docs := render(t, helm, ns, set...)
		mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(discovery.NewDiscoveryClientForConfigOrDie(cp.Admin)))
		var kinds []string
		for _, doc := range docs {
			var u unstructured.Unstructured
			if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
				t.Fatalf("%s: %v\n%s", name, err, doc)
			}
			gvk := u.GroupVersionKind()
			m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
			if err != nil {
				t.Fatalf("%s: %s: %v", name, gvk, err)
			}
			var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
			if m.Scope.Name() == meta.RESTScopeNameNamespace {
				ri = dyn.Resource(m.Resource).Namespace(ns)
			}
			if _, err := ri.Create(ctx, &u, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldValidation: "Strict"}); err != nil {
				t.Errorf("%s: %s %s: dry run: %v", name, gvk.Kind, u.GetName(), err)
			}
			kinds = append(kinds, gvk.Kind)
		}
		t.Logf("%s: %d objects accepted by a server-side dry run: %s", name, len(kinds), strings.Join(kinds, ", "))
	}

	// One source of truth for what the collector may do.
	var chartRules, baseRules []rbacv1.PolicyRule
	for _, doc := range render(t, helm, "default") {
		if r, ok := decodeRole(doc); ok {
			chartRules = r.Rules
		}
	}
	base, _ := os.ReadFile("../../infra/k8s/base/rbac.yaml")
	for _, doc := range strings.Split(string(base), "\n---") {
		if r, ok := decodeRole(doc); ok {
			baseRules = r.Rules
		}
	}
	if len(chartRules) == 0 || !reflect.DeepEqual(chartRules, baseRules) {
		t.Fatalf("the chart's Role and the kustomize base's differ:\n%v\n%v", chartRules, baseRules)
	}

	// The collector as the chart's ServiceAccount follows a run.
	m := cp.NewMirror()
	evs := followAs(t, m, applyRBAC(t, cp.Admin, m.Namespace, render(t, helm, m.Namespace), false))
	var lines []string
	for _, e := range evs {
		if e.Source == event.SourceK8s {
			lines = append(lines, e.Line)
		}
		if e.Notice == "degraded" {
			t.Fatalf("degraded under the chart's RBAC: %s", e.Line)
		}
	}
	if strings.Join(lines, ",") != "one,two,three" {
		t.Fatalf("the pod's lines under the chart's RBAC: %v", lines)
	}
}

func decodeRole(doc string) (*rbacv1.Role, bool) {
	obj, _, err := scheme.Codecs.UniversalDeserializer().Decode([]byte(doc), nil, nil)
	if err != nil {
		return nil, false
	}
	r, ok := obj.(*rbacv1.Role)
	return r, ok
}

// installServiceMonitorCRD installs the Prometheus Operator's ServiceMonitor kind
// (its group, names and scope; fields unchecked), as a cluster with the operator has.
func installServiceMonitorCRD(t *testing.T, admin *rest.Config) {
	t.Helper()
	crd := []byte(`apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: servicemonitors.monitoring.coreos.com
spec:
  group: monitoring.coreos.com
  scope: Namespaced
  names: {plural: servicemonitors, singular: servicemonitor, kind: ServiceMonitor, listKind: ServiceMonitorList}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
`)
	var u unstructured.Unstructured
	if err := yaml.Unmarshal(crd, &u.Object); err != nil {
		t.Fatal(err)
	}
	dyn, _ := dynamic.NewForConfig(admin)
	gvr := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	if _, err := dyn.Resource(gvr).Create(context.Background(), &u, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	// Established: served by discovery.
	for i := 0; ; i++ {
		got, err := dyn.Resource(gvr).Get(context.Background(), u.GetName(), metav1.GetOptions{})
		if err == nil {
			conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
			for _, c := range conds {
				if m, _ := c.(map[string]any); m["type"] == "Established" && m["status"] == "True" {
					return
				}
			}
		}
		if i > 100 {
			t.Fatal(errors.Join(errors.New("the ServiceMonitor CRD is not established"), err))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

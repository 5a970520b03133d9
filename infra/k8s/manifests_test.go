package k8s

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

// decode reads every document of every manifest in base/ strictly: unknown fields
// fail. kustomization.yaml is checked separately.
func decode(t *testing.T) []runtime.Object {
	t.Helper()
	files, _ := filepath.Glob("base/*.yaml")
	strict := json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme.Scheme, scheme.Scheme,
		json.SerializerOptions{Yaml: true, Strict: true})
	var out []runtime.Object
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(raw)))
		for {
			doc, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if len(bytes.TrimSpace(doc)) == 0 {
				continue
			}
			obj, _, err := strict.Decode(doc, nil, nil)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			out = append(out, obj)
		}
	}
	if len(out) < 8 {
		t.Fatalf("only %d objects", len(out))
	}
	return out
}

func TestKustomizationListsEveryManifest(t *testing.T) {
	raw, err := os.ReadFile("base/kustomization.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		Resources []string `json:"resources"`
		Images    []struct {
			Name, NewName, NewTag string
		} `json:"images"`
	}
	if err := yaml.Unmarshal(raw, &k); err != nil {
		t.Fatal(err)
	}
	// The image `go tool task images` builds (infra/images/build.sh).
	if len(k.Images) != 1 || k.Images[0].Name != "blastlog-stream" || k.Images[0].NewName != "localhost/blastlog-stream" ||
		k.Images[0].NewTag != "latest" {
		t.Errorf("kustomization images %+v", k.Images)
	}
	files, _ := filepath.Glob("base/*.yaml")
	var want []string
	for _, f := range files {
		if b := filepath.Base(f); b != "kustomization.yaml" {
			want = append(want, b)
		}
	}
	sort.Strings(want)
	sort.Strings(k.Resources)
	if !slices.Equal(want, k.Resources) {
		t.Fatalf("kustomization lists %v, the directory has %v", k.Resources, want)
	}
}

func TestDeploymentIsProbedLockedDownAndBounded(t *testing.T) {
	var d *appsv1.Deployment
	kinds := map[string]bool{}
	for _, o := range decode(t) {
		kinds[typeName(o)] = true
		if v, ok := o.(*appsv1.Deployment); ok {
			d = v
		}
	}
	for _, k := range []string{"Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler", "NetworkPolicy",
		"ServiceAccount", "Role", "RoleBinding"} {
		if !kinds[k] {
			t.Errorf("no %s in the base (have %v)", k, kinds)
		}
	}
	if d == nil {
		t.Fatal("no Deployment")
	}
	pod := d.Spec.Template.Spec
	if pod.ServiceAccountName != "blastlog-stream" || pod.SecurityContext == nil || pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot {
		t.Fatalf("pod security %+v", pod.SecurityContext)
	}
	if len(pod.Containers) != 1 {
		t.Fatal("one container expected")
	}
	c := pod.Containers[0]
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("liveness %+v", c.LivenessProbe)
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("readiness %+v", c.ReadinessProbe)
	}
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil ||
		*sc.AllowPrivilegeEscalation || sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, corev1.Capability("ALL")) {
		t.Errorf("container security %+v", sc)
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources %+v", c.Resources)
	}
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	if env["BLASTLOG_ENV"] != "production" || env["BLASTLOG_AUTH_MODE"] == "dev-bypass" {
		t.Errorf("env %v", env)
	}
	if d.Spec.Template.Spec.TerminationGracePeriodSeconds == nil || *d.Spec.Template.Spec.TerminationGracePeriodSeconds < 10 {
		t.Error("the grace period must cover the 10 s stop")
	}
}

func typeName(o runtime.Object) string {
	switch o.(type) {
	case *appsv1.Deployment:
		return "Deployment"
	case *corev1.Service:
		return "Service"
	case *corev1.ServiceAccount:
		return "ServiceAccount"
	case *policyv1.PodDisruptionBudget:
		return "PodDisruptionBudget"
	case *autoscalingv2.HorizontalPodAutoscaler:
		return "HorizontalPodAutoscaler"
	case *networkingv1.NetworkPolicy:
		return "NetworkPolicy"
	case *rbacv1.Role:
		return "Role"
	case *rbacv1.RoleBinding:
		return "RoleBinding"
	}
	return "other"
}

// The collector reads its namespace's pods, logs, Jobs, events and metrics, and the
// Nodes (cluster-wide, for the cost): nothing else.
func TestRBACGrantsOnlyWhatTheCollectorNeeds(t *testing.T) {
	var role *rbacv1.Role
	var binding *rbacv1.RoleBinding
	var sa *corev1.ServiceAccount
	for _, o := range decode(t) {
		switch v := o.(type) {
		case *rbacv1.Role:
			role = v
		case *rbacv1.RoleBinding:
			binding = v
		case *corev1.ServiceAccount:
			sa = v
		case *rbacv1.ClusterRole:
			// Cluster-wide: reading Nodes (for the cost), and nothing else.
			if len(v.Rules) != 1 || strings.Join(v.Rules[0].Resources, ",") != "nodes" || v.Rules[0].APIGroups[0] != "" ||
				strings.Join(v.Rules[0].Verbs, ",") != "get,list,watch" {
				t.Fatalf("cluster-wide RBAC beyond reading Nodes: %+v", v.Rules)
			}
		case *rbacv1.ClusterRoleBinding:
			if v.RoleRef.Name != "blastlog-nodes" || len(v.Subjects) != 1 || v.Subjects[0].Name != "blastlog-stream" {
				t.Fatalf("cluster-wide binding: %+v", v)
			}
		}
	}
	if role == nil || binding == nil || sa == nil {
		t.Fatal("ServiceAccount, Role and RoleBinding are all required")
	}
	want := map[string][]string{"/pods": {"get", "list", "watch"}, "/pods/log": {"get"}, "batch/jobs": {"get", "list", "watch"},
		"/events": {"get", "list", "watch"}, "metrics.k8s.io/pods": {"list"}}
	got := map[string][]string{}
	for _, r := range role.Rules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				got[g+"/"+res] = append(got[g+"/"+res], r.Verbs...)
			}
		}
	}
	for k, verbs := range got {
		slices.Sort(verbs)
		w := want[k]
		slices.Sort(w)
		if !slices.Equal(verbs, w) {
			t.Errorf("%s: verbs %v, want %v", k, verbs, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("resources %v", got)
	}
	if binding.RoleRef.Name != role.Name || binding.RoleRef.Kind != "Role" || len(binding.Subjects) != 1 ||
		binding.Subjects[0].Name != sa.Name || binding.Subjects[0].Namespace != sa.Namespace {
		t.Errorf("binding %+v", binding)
	}
}

func TestSAMTemplate(t *testing.T) {
	raw, err := os.ReadFile("../sam/template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var tpl struct {
		Transform string `json:"Transform"`
		Resources map[string]struct {
			Type       string `json:"Type"`
			Properties struct {
				Runtime     string
				Handler     string
				Environment struct{ Variables map[string]any }
				Events      map[string]struct {
					Type       string
					Properties struct {
						Path, Method, PayloadFormatVersion string
					}
				}
			} `json:"Properties"`
		} `json:"Resources"`
	}
	if err := yaml.Unmarshal(raw, &tpl); err != nil {
		t.Fatal(err)
	}
	fn, ok := tpl.Resources["TicketFunction"]
	if !ok || fn.Type != "AWS::Serverless::Function" || fn.Properties.Runtime != "provided.al2023" || fn.Properties.Handler != "bootstrap" {
		t.Fatalf("%+v", fn)
	}
	ev := fn.Properties.Events["Ticket"]
	if ev.Type != "HttpApi" || ev.Properties.Path != "/api/blast/logs/{job_id}/ticket" || ev.Properties.Method != "POST" ||
		ev.Properties.PayloadFormatVersion != "2.0" {
		t.Fatalf("event %+v", ev)
	}
	if fn.Properties.Environment.Variables["BLASTLOG_ENV"] != "production" || fn.Properties.Environment.Variables["BLASTLOG_AUTH_MODE"] != "entra" {
		t.Fatalf("env %v", fn.Properties.Environment.Variables)
	}
}

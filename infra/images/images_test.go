package images

import (
	"encoding/json"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

type image struct {
	name string
	port string   // "" for the CLI
	env  []string // what the image sets beside PATH
}

var images = []image{
	{"blastlog-stream", "8080/tcp", []string{"GODEBUG=adaptivestackstart=0", "GOGC=200"}}, // small stacks for waiting viewers; fewer collections
	{"blastlog-ticket", "8080/tcp", nil},
	{"blastlog-publish", "", nil},
}

func buildah(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("buildah", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("buildah %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func TestImages(t *testing.T) {
	if _, err := exec.LookPath("buildah"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("buildah is required in CI (apt-get install buildah)")
		}
		t.Skip("needs buildah and `go tool task images`")
	}
	for _, im := range images {
		t.Run(im.name, func(t *testing.T) {
			ref := "localhost/" + im.name + ":latest"
			if err := exec.Command("buildah", "inspect", "--type", "image", ref).Run(); err != nil {
				if os.Getenv("CI") != "" {
					t.Fatalf("%s is not built: .ci/run runs `go tool task images` before the tests", ref)
				}
				t.Skipf("%s is not built: run `go tool task images`", ref)
			}
			var info struct {
				OCIv1 struct {
					Config struct {
						User         string
						Env          []string
						Entrypoint   []string
						ExposedPorts map[string]struct{}
						Labels       map[string]string
					}
				}
			}
			if err := json.Unmarshal([]byte(buildah(t, "inspect", "--type", "image", ref)), &info); err != nil {
				t.Fatal(err)
			}
			c := info.OCIv1.Config
			if c.User != "65532:65532" {
				t.Errorf("user %q", c.User)
			}
			var env []string
			for _, e := range c.Env {
				if !strings.HasPrefix(e, "PATH=") {
					env = append(env, e)
				}
			}
			if !slices.Equal(env, im.env) {
				t.Errorf("environment %v, want %v", env, im.env)
			}
			if len(c.Entrypoint) != 1 || c.Entrypoint[0] != "/usr/local/bin/"+im.name {
				t.Errorf("entrypoint %v", c.Entrypoint)
			}
			if _, ok := c.ExposedPorts[im.port]; (im.port != "") != ok || (im.port == "" && len(c.ExposedPorts) > 0) {
				t.Errorf("ports %v, want %q", c.ExposedPorts, im.port)
			}
			if c.Labels["org.opencontainers.image.version"] == "" || c.Labels["org.opencontainers.image.source"] == "" ||
				c.Labels["org.opencontainers.image.title"] != im.name {
				t.Errorf("labels %v", c.Labels)
			}
			ctr := strings.TrimSpace(buildah(t, "from", "--quiet", ref))
			defer exec.Command("buildah", "rm", ctr).Run()
			root := strings.TrimSpace(buildah(t, "mount", ctr))
			defer exec.Command("buildah", "umount", ctr).Run()
			var size int64
			var files []string
			walk(t, root, "", &size, &files)
			// 0.17-0.18 added the page's sign-in library (308 KB) and the metrics
			// types (150 KB) to the stream's 39.7 MB.
			if size >= 42_000_000 {
				t.Errorf("%d bytes: over 42 MB", size)
			}
			for _, f := range files {
				if strings.HasSuffix(f, "/sh") || strings.HasSuffix(f, "/bash") {
					t.Errorf("a shell in the image: %s", f)
				}
			}
			for _, want := range []string{"/etc/passwd", "/etc/ssl/certs/ca-certificates.crt", "/usr/local/bin/" + im.name} {
				if !contains(files, want) {
					t.Errorf("%s missing (files: %v)", want, files)
				}
			}
			out := buildah(t, "run", "--isolation", "chroot", ctr, "/usr/local/bin/"+im.name, "--version")
			if !strings.HasPrefix(out, im.name+" ") || !strings.Contains(out, c.Labels["org.opencontainers.image.version"]) {
				t.Errorf("--version says %q", out)
			}
		})
	}
}

func walk(t *testing.T, root, rel string, size *int64, files *[]string) {
	entries, err := os.ReadDir(root + rel)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		p := rel + "/" + e.Name()
		if e.IsDir() {
			walk(t, root, p, size, files)
			continue
		}
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		*size += info.Size()
		*files = append(*files, p)
	}
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

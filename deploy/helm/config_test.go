package helm_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/pagergate/pagergate/adapters/webhook/webhooktest"
	"github.com/pagergate/pagergate/config"
	"github.com/pagergate/pagergate/deploy/internal/testbin"
)

// TestRenderedConfigPassesCheck runs `pagergate check --offline` (the
// static binary `make build` makes) on the configuration each values file
// renders, in a file tree shaped like the pod's: every file the
// configuration names must lie in one of the container's mounts, and the
// binary gets exactly the environment the container declares, so an
// env("...") the pod does not set fails the check.
func TestRenderedConfigPassesCheck(t *testing.T) {
	bin := testbin.Pagergate(t)
	for _, c := range cases(t) {
		t.Run(c.name, func(t *testing.T) {
			m := mustRender(t, readValues(t, c.path))
			env := containerEnv(t, m.container(t))
			cfg := parseWithEnv(t, m.hcl(t), env)

			root := t.TempDir()
			mounts := mountPaths(t, m)
			for _, f := range configFiles(cfg) {
				mount := mountOf(f.path, mounts)
				if mount == "" {
					t.Fatalf("%s = %s is in none of the container's mounts %v", f.key, f.path, mounts)
				}
				if strings.Contains(strings.TrimPrefix(f.path, mount+"/"), "/") {
					t.Errorf("%s = %s is not directly in its mount %s", f.key, f.path, mount)
				}
				writeFile(t, filepath.Join(root, f.path), f.content)
			}
			// The pod's paths, moved under root (in one pass: /tmp is a
			// mount and root lies in /tmp).
			var pairs []string
			for _, mp := range mounts {
				pairs = append(pairs, `"`+mp+`/`, `"`+root+mp+`/`)
			}
			hcl := strings.NewReplacer(pairs...).Replace(m.hcl(t))
			cfgPath := filepath.Join(root, "etc/pagergate/pagergate.hcl")
			writeFile(t, cfgPath, []byte(hcl))

			cmd := exec.Command(bin, "check", "--offline", "-c", cfgPath)
			for k, v := range env {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("pagergate check --offline: %v\n%s\n--- configuration:\n%s", err, out, hcl)
			}
			if !strings.Contains(string(out), "ok    config") {
				t.Errorf("check printed no config line:\n%s", out)
			}
			t.Logf("%s", out)
		})
	}
}

// containerEnv is the container's environment with a distinct stand-in for
// each Secret key it reads.
func containerEnv(t *testing.T, c *corev1.Container) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			r := e.ValueFrom.SecretKeyRef
			env[e.Name] = "secret:" + r.Name + "/" + r.Key
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		default:
			t.Fatalf("env %s: unexpected source %+v", e.Name, e.ValueFrom)
		}
	}
	return env
}

// parseWithEnv parses hcl with pagergate's config package, env holding the
// process environment for env("...").
func parseWithEnv(t *testing.T, hcl string, env map[string]string) *config.Config {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	cfg, err := config.Parse([]byte(hcl), "pagergate.hcl")
	if err != nil {
		t.Fatalf("rendered configuration does not parse: %v\n%s", err, hcl)
	}
	return cfg
}

type configFile struct {
	key, path string
	content   []byte
}

// configFiles lists the files a configuration names, with stand-in
// content that passes the offline check (PEM certificates and keys).
func configFiles(cfg *config.Config) []configFile {
	cert, key := selfSigned()
	var out []configFile
	if cfg.Teleport.Identity != "" {
		// An identity file holds the key, the SSH certificate (one line;
		// only its type is read offline) and the TLS certificate.
		identity := append(slices.Clone(key), "ssh-ed25519-cert-v01@openssh.com AAAA stand-in\n"...)
		out = append(out, configFile{"teleport.identity", cfg.Teleport.Identity, append(identity, cert...)})
	}
	if w := cfg.Webhook; w != nil {
		out = append(out,
			configFile{"webhook.tls.cert_file", w.TLS.CertFile, cert},
			configFile{"webhook.tls.key_file", w.TLS.KeyFile, key})
		if w.TLS.ClientCAFile != "" {
			out = append(out, configFile{"webhook.tls.client_ca_file", w.TLS.ClientCAFile, cert})
		}
	}
	return out
}

// mountPaths lists the container's mount paths.
func mountPaths(t *testing.T, m *manifests) []string {
	t.Helper()
	var out []string
	for _, vm := range m.container(t).VolumeMounts {
		out = append(out, vm.MountPath)
	}
	return out
}

func mountOf(path string, mounts []string) string {
	for _, mp := range mounts {
		if strings.HasPrefix(path, mp+"/") {
			return mp
		}
	}
	return ""
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// selfSigned returns a PEM certificate valid for 30 days and its key.
func selfSigned() (certPEM, keyPEM []byte) {
	c, err := webhooktest.NewCA("pagergate.example.com", time.Now().Add(-time.Hour), time.Now().Add(30*24*time.Hour))
	if err != nil {
		panic(err)
	}
	return c.CertPEM(), c.KeyPEM()
}

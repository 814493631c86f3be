package main

import (
	"archive/tar"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"log"
	"maps"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/pagergate/pagergate/adapters/webhook/webhooktest"
	"github.com/pagergate/pagergate/deploy/internal/testbin"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testbin.Cleanup()
	os.Exit(code)
}

var created = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func hostPlatform() v1.Platform { return v1.Platform{OS: "linux", Architecture: runtime.GOARCH} }

// options builds the real static binary for the host and a test CA bundle.
func options(t *testing.T) Options {
	t.Helper()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, testCA(t), 0o644); err != nil {
		t.Fatal(err)
	}
	return Options{
		Binaries: []Binary{{Platform: hostPlatform(), Path: testbin.Pagergate(t)}},
		Version:  testbin.Version, Revision: "0123456789abcdef0123456789abcdef01234567",
		Source: "https://github.com/pagergate/pagergate", Created: created, CABundle: ca,
	}
}

// TestImage builds the image from the real binary, writes the layout and
// its archive, reads both back and checks what Kubernetes relies on: the
// user, the entrypoint, the labels, the files; then runs the binary taken
// out of the image.
func TestImage(t *testing.T) {
	o := options(t)
	idx, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	layoutDir, archive := filepath.Join(dir, "oci"), filepath.Join(dir, "pagergate-oci.tar")
	if err := WriteLayout(layoutDir, idx, o.Version); err != nil {
		t.Fatal(err)
	}
	if err := WriteArchive(layoutDir, archive, created); err != nil {
		t.Fatal(err)
	}
	back, err := ReadLayout(layoutDir)
	if err != nil {
		t.Fatal(err)
	}
	img := checkIndex(t, back, o)
	checkConfig(t, img, o)
	files := checkFiles(t, img, o)

	bin := filepath.Join(dir, "pagergate")
	if err := os.WriteFile(bin, files["usr/local/bin/pagergate"], 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), testbin.Version) {
		t.Errorf("the image's binary: version = %q, %v; want %s", out, err, testbin.Version)
	}

	// The archive holds the same layout.
	unpacked := filepath.Join(dir, "unpacked")
	untar(t, archive, unpacked)
	fromArchive, err := ReadLayout(unpacked)
	if err != nil {
		t.Fatalf("read the archive's layout: %v", err)
	}
	if a, b := digest(t, fromArchive), digest(t, idx); a != b {
		t.Errorf("archive index %s, layout index %s", a, b)
	}
}

// checkIndex: an OCI index with one manifest per platform, labelled, and
// the layout tags it with the version.
func checkIndex(t *testing.T, idx v1.ImageIndex, o Options) v1.Image {
	t.Helper()
	if mt, _ := idx.MediaType(); mt != types.OCIImageIndex {
		t.Errorf("index media type %s, want %s", mt, types.OCIImageIndex)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(m.Annotations, o.Labels()) {
		t.Errorf("index annotations %v, want %v", m.Annotations, o.Labels())
	}
	if len(m.Manifests) != 1 {
		t.Fatalf("want 1 manifest, got %d", len(m.Manifests))
	}
	d := m.Manifests[0]
	if d.Platform == nil || !d.Platform.Equals(hostPlatform()) || d.MediaType != types.OCIManifestSchema1 {
		t.Errorf("manifest descriptor: platform %v media type %s", d.Platform, d.MediaType)
	}
	img, err := idx.Image(d.Digest)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func checkConfig(t *testing.T, img v1.Image, o Options) {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if c.User != "65532:65532" {
		t.Errorf("user %q, want 65532:65532 (numeric, not root)", c.User)
	}
	if !slices.Equal(c.Entrypoint, []string{"/usr/local/bin/pagergate"}) || !slices.Equal(c.Cmd, []string{"start"}) {
		t.Errorf("entrypoint %q cmd %q", c.Entrypoint, c.Cmd)
	}
	for _, k := range []string{"title", "description", "version", "revision", "source", "url", "created"} {
		if c.Labels["org.opencontainers.image."+k] == "" {
			t.Errorf("label org.opencontainers.image.%s missing: %v", k, c.Labels)
		}
	}
	if c.Labels["org.opencontainers.image.version"] != testbin.Version || c.Labels["org.opencontainers.image.revision"] != o.Revision ||
		c.Labels["org.opencontainers.image.created"] != "2025-01-02T03:04:05Z" {
		t.Errorf("labels %v do not carry the build's version, revision and time", c.Labels)
	}
	if cf.OS != "linux" || cf.Architecture != runtime.GOARCH || !cf.Created.Time.Equal(created) {
		t.Errorf("config platform %s/%s created %v", cf.OS, cf.Architecture, cf.Created)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.MediaType != types.OCIConfigJSON || len(m.Layers) != 1 || m.Layers[0].MediaType != types.OCILayer {
		t.Errorf("manifest: config %s, layers %+v; want OCI media types and one layer", m.Config.MediaType, m.Layers)
	}
	if !maps.Equal(m.Annotations, o.Labels()) {
		t.Errorf("manifest annotations %v, want the labels", m.Annotations)
	}
}

// checkFiles reads the image's file system: exactly the expected files,
// owned by root except pagergate's state directory, nothing setuid.
func checkFiles(t *testing.T, img v1.Image, o Options) map[string][]byte {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	files := map[string][]byte{}
	var names []string
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if h.Mode&0o6000 != 0 {
			t.Errorf("%s is setuid or setgid", h.Name)
		}
		owner := [2]int{h.Uid, h.Gid}
		switch h.Name {
		case "var/lib/pagergate":
			if owner != [2]int{65532, 65532} || h.Mode&0o777 != 0o700 {
				t.Errorf("%s: owner %v mode %o, want 65532 and 0700", h.Name, owner, h.Mode)
			}
		case "usr/local/bin/pagergate":
			if owner != [2]int{0, 0} || h.Mode&0o777 != 0o755 {
				t.Errorf("%s: owner %v mode %o, want root and 0755", h.Name, owner, h.Mode)
			}
		default:
			if owner != [2]int{0, 0} {
				t.Errorf("%s: owner %v, want root", h.Name, owner)
			}
		}
		if !h.ModTime.Equal(created) {
			t.Errorf("%s: mtime %v, want the build's %v", h.Name, h.ModTime, created)
		}
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			files[h.Name] = b
		}
	}
	want := []string{
		"etc", "etc/group", "etc/nsswitch.conf", "etc/pagergate", "etc/passwd", "etc/ssl", "etc/ssl/certs",
		"etc/ssl/certs/ca-certificates.crt", "tmp", "usr", "usr/local", "usr/local/bin", "usr/local/bin/pagergate",
		"var", "var/lib", "var/lib/pagergate",
	}
	if !slices.Equal(names, want) {
		t.Errorf("image files %q, want %q", names, want)
	}
	bin, _ := os.ReadFile(o.Binaries[0].Path)
	ca, _ := os.ReadFile(o.CABundle)
	if !bytes.Equal(files["usr/local/bin/pagergate"], bin) || !bytes.Equal(files["etc/ssl/certs/ca-certificates.crt"], ca) {
		t.Error("the binary or the CA bundle in the image differ from their sources")
	}
	if !strings.Contains(string(files["etc/passwd"]), ":65532:65532:") {
		t.Errorf("/etc/passwd does not name user 65532:\n%s", files["etc/passwd"])
	}
	return files
}

// TestImageIsReproducible: the same inputs give the same digest; another
// creation time gives another.
func TestImageIsReproducible(t *testing.T) {
	o := options(t)
	a, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	if digest(t, a) != digest(t, b) {
		t.Errorf("two builds of the same inputs: %s and %s", digest(t, a), digest(t, b))
	}
	o.Created = created.Add(time.Second)
	c, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	if digest(t, a) == digest(t, c) {
		t.Error("another creation time gave the same digest")
	}
}

// TestPush pushes to an in-process registry (the Docker Registry HTTP API
// v2, from go-containerregistry) and pulls the image back by tag.
func TestPush(t *testing.T) {
	o := options(t)
	idx, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(registry.New(registry.Logger(discardLogger())))
	defer srv.Close()
	ref := strings.TrimPrefix(srv.URL, "http://") + "/pagergate:" + o.Version
	if _, err := Push(idx, ref, true); err != nil {
		t.Fatalf("push: %v", err)
	}
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	pulled, err := remote.Index(r)
	if err != nil {
		t.Fatalf("pull: %v", err)
	}
	if digest(t, pulled) != digest(t, idx) {
		t.Errorf("pulled %s, pushed %s", digest(t, pulled), digest(t, idx))
	}
	img, err := remote.Image(r, remote.WithPlatform(hostPlatform()))
	if err != nil {
		t.Fatal(err)
	}
	checkConfig(t, img, o)
}

// TestBuildRefusesWrongBinaries: a binary for another architecture, one
// that needs a dynamic loader (the image has no libc) and a file that is
// not a binary are refused.
func TestBuildRefusesWrongBinaries(t *testing.T) {
	o := options(t)
	bin, err := os.ReadFile(o.Binaries[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	dir := t.TempDir()
	dynamic := filepath.Join(dir, "dynamic")
	if err := os.WriteFile(dynamic, withInterpreter(t, bin), 0o755); err != nil {
		t.Fatal(err)
	}
	text := filepath.Join(dir, "text")
	if err := os.WriteFile(text, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		bin  Binary
		want string
	}{
		{"other architecture", Binary{Platform: v1.Platform{OS: "linux", Architecture: other}, Path: o.Binaries[0].Path}, "built for"},
		{"dynamic", Binary{Platform: hostPlatform(), Path: dynamic}, "dynamically linked"},
		{"not a binary", Binary{Platform: hostPlatform(), Path: text}, "not an ELF binary"},
	} {
		o := o
		o.Binaries = []Binary{tc.bin}
		if _, err := Build(o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
	o.Binaries = append(o.Binaries, o.Binaries[0])
	if _, err := Build(o); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("a platform given twice: err = %v", err)
	}
}

// withInterpreter returns a copy of a 64-bit little-endian ELF binary whose
// first program header is turned into PT_INTERP, as a dynamically linked
// binary has.
func withInterpreter(t *testing.T, bin []byte) []byte {
	t.Helper()
	out := bytes.Clone(bin)
	if len(out) < 64 || string(out[:4]) != "\x7fELF" || out[4] != 2 || out[5] != 1 {
		t.Fatal("not a 64-bit little-endian ELF binary")
	}
	phoff := binary.LittleEndian.Uint64(out[0x20:])
	binary.LittleEndian.PutUint32(out[phoff:], 3) // PT_INTERP
	return out
}

func digest(t *testing.T, idx v1.ImageIndex) v1.Hash {
	t.Helper()
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func untar(t *testing.T, archive, dir string) {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		if !strings.HasPrefix(p, dir+string(filepath.Separator)) {
			t.Fatalf("archive entry %q escapes the directory", h.Name)
		}
		if h.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func testCA(t *testing.T) []byte {
	t.Helper()
	c, err := webhooktest.NewCA("test root", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return c.CertPEM()
}

func discardLogger() *log.Logger { return log.New(io.Discard, "", 0) }

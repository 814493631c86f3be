package main

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Where things are in the image.
const (
	binaryPath = "/usr/local/bin/pagergate"
	caPath     = "/etc/ssl/certs/ca-certificates.crt"
	// User and group of the process: not root, and numeric so that
	// Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
	uid, gid = 65532, 65532
	user     = "65532:65532"
)

// Binary is a static pagergate binary for one platform.
type Binary struct {
	Platform v1.Platform
	Path     string
}

// Options describe the image to build.
type Options struct {
	Binaries []Binary
	Version  string    // org.opencontainers.image.version and the layout's tag
	Revision string    // the source commit
	Source   string    // URL of the source repository
	Created  time.Time // every timestamp in the image: the same inputs give the same digest
	CABundle string    // PEM roots copied to /etc/ssl/certs/ca-certificates.crt
}

// Labels are the OCI annotations (image-spec annotations.md) the image
// config, every manifest and the index carry.
func (o Options) Labels() map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":       "pagergate",
		"org.opencontainers.image.description": "Turns Teleport access requests into PagerDuty incidents and on-call status into access decisions.",
		"org.opencontainers.image.version":     o.Version,
		"org.opencontainers.image.revision":    o.Revision,
		"org.opencontainers.image.source":      o.Source,
		"org.opencontainers.image.url":         o.Source,
		"org.opencontainers.image.created":     o.Created.UTC().Format(time.RFC3339),
	}
}

// Build returns the image index holding one image per binary.
func Build(o Options) (v1.ImageIndex, error) {
	if len(o.Binaries) == 0 {
		return nil, errors.New("no binary given")
	}
	if o.Version == "" || o.Created.IsZero() {
		return nil, errors.New("the version and the creation time are required")
	}
	ca, err := os.ReadFile(o.CABundle)
	if err != nil {
		return nil, fmt.Errorf("CA bundle for TLS to the pager: %w", err)
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	seen := map[string]bool{}
	for _, b := range o.Binaries {
		if seen[b.Platform.String()] {
			return nil, fmt.Errorf("platform %s given twice", b.Platform)
		}
		seen[b.Platform.String()] = true
		img, err := buildImage(b, ca, o)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.Platform, err)
		}
		p := b.Platform
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &p, Annotations: o.Labels()},
		})
	}
	return mutate.Annotations(idx, o.Labels()).(v1.ImageIndex), nil
}

func buildImage(b Binary, ca []byte, o Options) (v1.Image, error) {
	bin, err := os.ReadFile(b.Path)
	if err != nil {
		return nil, err
	}
	if err := checkBinary(bin, b.Platform); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Path, err)
	}
	layer, err := rootLayer(bin, ca, o.Created)
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History:   v1.History{Created: v1.Time{Time: o.Created}, CreatedBy: "deploy/image: pagergate " + o.Version, Comment: "static binary, CA roots, user 65532"},
	})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS, cf.Variant, cf.OSVersion = b.Platform.Architecture, b.Platform.OS, b.Platform.Variant, b.Platform.OSVersion
	cf.Created = v1.Time{Time: o.Created}
	cf.Author = ""
	cf.Config = v1.Config{
		User:         user,
		Entrypoint:   []string{binaryPath},
		Cmd:          []string{"start"},
		Env:          []string{"PATH=/usr/local/bin"},
		WorkingDir:   "/",
		ExposedPorts: map[string]struct{}{"8443/tcp": {}, "9464/tcp": {}},
		Labels:       o.Labels(),
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, err
	}
	return mutate.Annotations(img, o.Labels()).(v1.Image), nil
}

// checkBinary refuses a binary for another machine or one that needs a
// dynamic loader: the image has no libc.
func checkBinary(bin []byte, p v1.Platform) error {
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		return fmt.Errorf("not an ELF binary: %w", err)
	}
	defer f.Close()
	want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64, "arm": elf.EM_ARM, "386": elf.EM_386, "ppc64le": elf.EM_PPC64, "s390x": elf.EM_S390, "riscv64": elf.EM_RISCV}
	if m, ok := want[p.Architecture]; !ok || f.Machine != m || p.OS != "linux" {
		return fmt.Errorf("built for %s, not %s", f.Machine, p)
	}
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return errors.New("dynamically linked; build with CGO_ENABLED=0")
		}
	}
	return nil
}

// entry is a file or directory of the root layer.
type entry struct {
	path     string
	mode     int64
	uid, gid int
	data     []byte // nil for a directory
}

// rootLayer is the image's only layer: the binary, CA roots, the user
// database naming user 65532, and the directories pagergate writes to by
// default (owned by that user).
func rootLayer(bin, ca []byte, created time.Time) (v1.Layer, error) {
	files := []entry{
		{path: binaryPath, mode: 0o755, data: bin},
		{path: caPath, mode: 0o644, data: ca},
		{path: "/etc/passwd", mode: 0o644, data: fmt.Appendf(nil, "root:x:0:0:root:/root:/sbin/nologin\npagergate:x:%d:%d:pagergate:/var/lib/pagergate:/sbin/nologin\n", uid, gid)},
		{path: "/etc/group", mode: 0o644, data: fmt.Appendf(nil, "root:x:0:\npagergate:x:%d:\n", gid)},
		{path: "/etc/nsswitch.conf", mode: 0o644, data: []byte("hosts: files dns\n")},
		{path: "/tmp", mode: 0o1777},
		{path: "/var/lib/pagergate", mode: 0o700, uid: uid, gid: gid},
		{path: "/etc/pagergate", mode: 0o755},
	}
	var buf bytes.Buffer
	if err := writeTar(&buf, withParents(files), created); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(types.OCILayer))
}

// withParents adds the missing parent directories (root-owned, 0755) and
// sorts the entries so parents come first and the order never changes.
func withParents(files []entry) []entry {
	have := map[string]bool{}
	for _, f := range files {
		have[f.path] = true
	}
	out := append([]entry(nil), files...)
	for _, f := range files {
		for dir := path.Dir(f.path); dir != "/"; dir = path.Dir(dir) {
			if !have[dir] {
				have[dir] = true
				out = append(out, entry{path: dir, mode: 0o755})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out
}

func writeTar(w io.Writer, entries []entry, mtime time.Time) error {
	tw := tar.NewWriter(w)
	for _, e := range entries {
		h := &tar.Header{
			Name: e.path[1:], Mode: e.mode, Uid: e.uid, Gid: e.gid, ModTime: mtime.UTC().Truncate(time.Second),
			Typeflag: tar.TypeReg, Size: int64(len(e.data)),
		}
		if e.data == nil {
			h.Typeflag, h.Name = tar.TypeDir, h.Name+"/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := tw.Write(e.data); err != nil {
			return err
		}
	}
	return tw.Close()
}

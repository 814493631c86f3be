package main

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// refNameKey tags an entry of an OCI layout's index.json.
const refNameKey = "org.opencontainers.image.ref.name"

// WriteLayout writes idx as the only entry of a fresh OCI image layout in
// dir (replacing what was there), tagged tag.
func WriteLayout(dir string, idx v1.ImageIndex, tag string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	return p.AppendIndex(idx, layout.WithAnnotations(map[string]string{refNameKey: tag}))
}

// WriteArchive writes the layout in dir as a tar file (the oci-archive
// format of skopeo and podman), entries sorted and stamped with mtime so
// the same layout gives the same bytes.
func WriteArchive(dir, tarPath string, mtime time.Time) (err error) {
	var paths []string
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && p != dir {
			paths = append(paths, p)
		}
		return err
	})
	if err != nil {
		return err
	}
	sort.Strings(paths)
	f, err := os.Create(tarPath)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, f.Close()) }()
	tw := tar.NewWriter(f)
	for _, p := range paths {
		if err := addToArchive(tw, dir, p, mtime); err != nil {
			return err
		}
	}
	return tw.Close()
}

func addToArchive(tw *tar.Writer, dir, p string, mtime time.Time) error {
	info, err := os.Lstat(p)
	if err != nil {
		return err
	}
	rel, err := filepath.Rel(dir, p)
	if err != nil {
		return err
	}
	h := &tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, ModTime: mtime.UTC().Truncate(time.Second), Typeflag: tar.TypeReg, Size: info.Size()}
	switch {
	case info.IsDir():
		h.Name, h.Mode, h.Typeflag, h.Size = h.Name+"/", 0o755, tar.TypeDir, 0
	case !info.Mode().IsRegular():
		return fmt.Errorf("%s: not a regular file", p)
	}
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	if h.Typeflag == tar.TypeDir {
		return nil
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(tw, f)
	return err
}

// ReadLayout returns the image index a layout written by WriteLayout holds.
func ReadLayout(dir string) (v1.ImageIndex, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, err
	}
	top, err := p.ImageIndex()
	if err != nil {
		return nil, err
	}
	m, err := top.IndexManifest()
	if err != nil {
		return nil, err
	}
	if len(m.Manifests) != 1 {
		return nil, fmt.Errorf("%s: want one entry in index.json, have %d", dir, len(m.Manifests))
	}
	return top.ImageIndex(m.Manifests[0].Digest)
}

// Push uploads idx to ref with the credentials of the Docker config
// (~/.docker/config.json, as docker, podman and crane log in). insecure
// allows plain HTTP, for a registry on loopback.
func Push(idx v1.ImageIndex, ref string, insecure bool) (name.Reference, error) {
	var opts []name.Option
	if insecure {
		opts = append(opts, name.Insecure)
	}
	r, err := name.ParseReference(ref, opts...)
	if err != nil {
		return nil, err
	}
	return r, remote.WriteIndex(r, idx, remote.WithAuthFromKeychain(authn.DefaultKeychain))
}

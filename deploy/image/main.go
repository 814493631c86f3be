// Command image builds pagergate's OCI image without a container engine
// (SPEC §18), with go-containerregistry: one layer holding the static
// binary, CA roots and a user database, run as user 65532, labelled with
// the OCI annotations; one image per platform in an image index. `make
// image` and `make image-push` run it.
//
//	go run ./deploy/image build -binary linux/amd64=PATH [-binary ...] -version V -revision R -created TIME [-out bin/image]
//	go run ./deploy/image push [-insecure] [-layout bin/image/oci] REGISTRY/NAME:TAG
//
// build writes OUT/oci (an OCI image layout) and OUT/pagergate-oci.tar
// (the same as an oci-archive). The same inputs give the same digest.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "image: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: image build|push [flags]")
	}
	switch args[0] {
	case "build":
		return cmdBuild(args[1:], stdout)
	case "push":
		return cmdPush(args[1:], stdout)
	}
	return fmt.Errorf("unknown command %q: build or push", args[0])
}

// binaries is the repeatable -binary PLATFORM=PATH flag.
type binaries []Binary

func (b *binaries) String() string { return fmt.Sprint(*b) }

func (b *binaries) Set(s string) error {
	plat, p, ok := strings.Cut(s, "=")
	if !ok || p == "" {
		return fmt.Errorf("want PLATFORM=PATH, such as linux/amd64=bin/pagergate-linux-amd64; got %q", s)
	}
	pl, err := v1.ParsePlatform(plat)
	if err != nil {
		return err
	}
	*b = append(*b, Binary{Platform: *pl, Path: p})
	return nil
}

func cmdBuild(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("build", flag.ContinueOnError)
	var o Options
	var bins binaries
	fs.Var(&bins, "binary", "PLATFORM=PATH of a static pagergate binary (repeat for more platforms)")
	fs.StringVar(&o.Version, "version", "", "pagergate's version (label and the layout's tag)")
	fs.StringVar(&o.Revision, "revision", "", "source commit")
	fs.StringVar(&o.Source, "source", "https://github.com/pagergate/pagergate", "source repository URL")
	fs.StringVar(&o.CABundle, "ca-bundle", "/etc/ssl/certs/ca-certificates.crt", "PEM CA roots to ship (TLS to the pager's API)")
	created := fs.String("created", "", "creation time, RFC 3339 (the commit's time keeps builds reproducible)")
	out := fs.String("out", "bin/image", "output directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	t, err := time.Parse(time.RFC3339, *created)
	if err != nil {
		return fmt.Errorf("-created: %w", err)
	}
	o.Binaries, o.Created = bins, t.UTC().Truncate(time.Second)
	idx, err := Build(o)
	if err != nil {
		return err
	}
	layoutDir := filepath.Join(*out, "oci")
	if err := WriteLayout(layoutDir, idx, o.Version); err != nil {
		return err
	}
	archive := filepath.Join(*out, "pagergate-oci.tar")
	if err := WriteArchive(layoutDir, archive, o.Created); err != nil {
		return err
	}
	d, err := idx.Digest()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "image %s (%d platform(s)): %s and %s\n", d, len(bins), layoutDir, archive)
	return nil
}

func cmdPush(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("push", flag.ContinueOnError)
	dir := fs.String("layout", "bin/image/oci", "OCI layout written by build")
	insecure := fs.Bool("insecure", false, "allow plain HTTP (a registry on loopback)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("push: want one reference, such as registry.example.com/pagergate:0.1.0")
	}
	idx, err := ReadLayout(*dir)
	if err != nil {
		return err
	}
	ref, err := Push(idx, fs.Arg(0), *insecure)
	if err != nil {
		return err
	}
	d, err := idx.Digest()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "pushed %s@%s\n", ref, d)
	return nil
}

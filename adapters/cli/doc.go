// Package cli is the text of pagergate's command line: the help of each
// subcommand (help/<name>.txt, with its flags and their defaults filled
// in), the parsing of flags and arguments into usage errors (exit 2), and
// the lines `pagergate check` prints. cmd/pagergate defines the flags and
// wires the rest.
package cli

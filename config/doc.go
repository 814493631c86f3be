// Package config decodes and validates pagergate's HCL configuration file
// (SPEC §9). It sits outside the hexagon: the daemon and the CLI read a
// Config here and hand each adapter the plain values its own Config needs.
// It owns the schema (File and its blocks), the defaults (Defaults), the
// diagnostics users see (DiagError, with file:line:column and the offending
// source line), the text `pagergate configure` prints (Annotated) and the
// conversion of the reference plugin's TOML (Migrate). It imports none of
// pagergate's other packages.
//
// Files may call env("NAME"), env("NAME", "default") and file("path") to
// keep secrets out of the file; relative file() paths start at the
// configuration file's directory.
package config

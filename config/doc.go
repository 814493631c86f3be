// Package config decodes and validates pagergate's HCL configuration file
// (SPEC §9). It owns the schema, the defaults and the diagnostics users see;
// it imports none of pagergate's other packages.
package config

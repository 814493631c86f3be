//go:build bench && !e2e

package e2e

// raceBuild is false for benchmarks: they measure a normal build.
const raceBuild = false

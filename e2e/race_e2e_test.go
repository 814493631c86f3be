//go:build e2e

package e2e

// raceBuild makes TestMain build pagergate with the race detector.
const raceBuild = true

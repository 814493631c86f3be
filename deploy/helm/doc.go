// Package helm holds the tests of the Helm chart in ./pagergate (SPEC §18)
// and the generator of the chart's values table. The tests go through the
// Helm Go SDK: lint and render a matrix of values files (pagergate/ci),
// decode every object strictly into its Kubernetes API type, and run
// `pagergate check --offline` on the rendered configuration.
package helm

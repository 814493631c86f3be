// Package teleportroles holds the tests of the Teleport resources pagergate
// ships, one file per edition: deploy/teleport-roles-community.yaml and
// deploy/teleport-roles-enterprise.yaml. The tests decode them strictly
// into the Teleport api's own types and check the shape each edition
// needs; the Community file is also created with `tctl create -f` on a
// real Teleport by the realteleport e2e suite.
package teleportroles

// Package ports holds the interfaces the core owns, in domain types: what
// the use cases in app need from Teleport, the pager, the local store and
// the metrics sink, and what driving adapters (the webhook) call in app.
// Adapters implement them and translate vendor failures into the errors of
// this package.
package ports

// Package logsink is the driven adapter of the log output: it builds the
// process's zap logger from the `log {}` block, writing to stderr, stdout
// or a file, and applies a reloaded block (SIGHUP): the file is reopened
// (after logrotate moved it) and the severity changes in place.
//
// It implements no port: the logger is handed to every component as a
// *zap.Logger.
package logsink

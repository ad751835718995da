// Package logging builds the process's zerolog logger from the config's level and
// format. Connection-scoped fields (a connection id) are added by the proxy.
package logging

// Package model holds the few types every part of quantrac shares: a sample
// and its series labels, the quality code of a reading, label matchers, a
// station, and the storage interfaces that the embedded engine (tsdb) and the
// VictoriaMetrics backend both implement. It depends on nothing but the
// standard library so that drivers, collector, tsdb, api and alerting can all
// import it without pulling each other in.
package model

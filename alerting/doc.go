// Package alerting evaluates rules against incoming samples and periodic
// queries, keeps the lifecycle of every alert (pending → firing →
// acknowledged → resolved) in a local bbolt store, decides who is on duty
// from the on-call roster, escalates unacknowledged alerts, and delivers
// notifications through a persistent outbox to receivers (SMS over SMPP or an
// HTTP gateway, webhooks, a file sink) that live in subpackages.
//
// Rule files are YAML, documented key by key in docs/alerting.md; ParseRules
// and LoadRules validate them with errors naming file, line and field.
package alerting

// Package mqtt subscribes to station readings on an MQTT broker and turns
// them into samples.
//
// It has two halves that can be used apart:
//
//   - Payload codecs (format.go, decode_*.go, encode.go, topic.go): pure
//     functions that turn a topic and a payload into samples, and the
//     encoders a simulator uses to publish exactly what the decoders read.
//     Formats: a bare number, a flat JSON object, SenML JSON (RFC 8428) and a
//     configurable JSON path mapping.
//   - Subscriber (subscriber.go): a paho client with a persistent session,
//     QoS 1, manual acknowledgement and a cap on unacknowledged messages.
//     A message is acknowledged only when the caller says the samples made
//     from it are stored, so a crash means redelivery, not loss.
package mqtt

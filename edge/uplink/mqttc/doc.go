// Package mqttc owns how edgerec reaches an MQTT v5 broker: broker URL rules
// (TLS unless plain TCP is explicitly allowed), TLS with a CA and an optional
// client certificate (mutual TLS), username/password, the CONNECT packet, and
// turning connection failures into short, clear health texts. The device
// uplink and the ops fleet view share it.
package mqttc

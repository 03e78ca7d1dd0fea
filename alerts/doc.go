// Package alerts holds the Prometheus recording and alerting rules
// (squid-cache-exporter.rules.yml) and their promtool unit tests.
package alerts

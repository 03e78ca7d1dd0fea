// Package dashboards holds the Grafana dashboard; its tests lint it and run
// every expression in it against a real Prometheus.
package dashboards

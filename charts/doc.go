// Package charts holds the Helm chart (squid-cache/) and its tests: the
// chart carries the current Squid snippet, rules and dashboard, its schema
// rejects unknown keys and wrong types, every value changes what it renders,
// the rendered squid.conf passes `squid -k parse`, and the README's values
// table matches values.yaml. hack/test-k8s.sh proves it on a real cluster.
package charts

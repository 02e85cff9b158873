// Package deploy holds no code: its tests check the files under deploy/ without a cluster.
// Every manifest under kubernetes/ is decoded strictly into the Kubernetes API types
// (unknown or duplicate fields fail), the StatefulSet, Services, PodDisruptionBudget and
// ServiceMonitor are checked against each other and against cachenode's flags and endpoints,
// and the Grafana dashboard's queries are checked against the metric names that cachenode and
// cacheclient export. It is a module of its own so the main module does not depend on the
// Kubernetes API packages; `make test` runs it after the main suite.
package deploy

// Package cachetier is the root of the cachetier module: a Redis-protocol cache
// tier (cachenode), a consistent-hash ring (ring), a two-level embedded client
// (cacheclient, loader) and a load tester (loadtest). The root package has no
// code of its own; import the packages below it.
package cachetier

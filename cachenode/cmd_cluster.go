// CLUSTER, READONLY and READWRITE, answered as without cluster support.

package cachenode

// clusterCommands answer as Redis does without cluster support.
var clusterCommands = []*command{
	{
		name: "readonly", arity: 1, flags: flagFast | flagLoading | flagStale,
		acl: "@fast @connection", run: cmdClusterDisabled,
		doc: docMeta{group: "cluster", since: "3.0.0", complexity: "O(1)",
			summary: "Enables read-only queries for a connection to a Redis Cluster replica node."},
	},
	{
		name: "readwrite", arity: 1, flags: flagFast | flagLoading | flagStale,
		acl: "@fast @connection", run: cmdClusterDisabled,
		doc: docMeta{group: "cluster", since: "3.0.0", complexity: "O(1)",
			summary: "Enables read-write queries for a connection to a Redis Cluster replica node."},
	},
	{
		name: "cluster", arity: -2,
		acl: "@slow",
		doc: docMeta{group: "cluster", since: "3.0.0", complexity: "Depends on subcommand.",
			summary: "A container for Redis Cluster commands."},
		subs: clusterSubcommands(),
	},
}

// errClusterDisabled is Redis's reply to CLUSTER, READONLY and READWRITE on
// a server not started with cluster-enabled yes.
const errClusterDisabled = "ERR This instance has cluster support disabled"

// clusterSubs are Redis 7's CLUSTER subcommands and their arities: Redis
// checks the subcommand name and the arity before it answers that cluster
// support is disabled, so cachenode knows them all.
var clusterSubs = []struct {
	name  string
	arity int
}{
	{"addslots", -3}, {"addslotsrange", -4}, {"bumpepoch", 2}, {"count-failure-reports", 3},
	{"countkeysinslot", 3}, {"delslots", -3}, {"delslotsrange", -4}, {"failover", -2},
	{"flushslots", 2}, {"forget", 3}, {"getkeysinslot", 4}, {"help", 2}, {"info", 2},
	{"keyslot", 3}, {"links", 2}, {"meet", -4}, {"myid", 2}, {"myshardid", 2}, {"nodes", 2},
	{"replicas", 3}, {"replicate", 3}, {"reset", -2}, {"saveconfig", 2}, {"set-config-epoch", 3},
	{"setslot", -4}, {"shards", 2}, {"slaves", 3}, {"slots", 2},
}

// clusterSubcommands are CLUSTER's subcommands, from clusterSubs: cachenode
// is a standalone server, so each answers like Redis without cluster
// support.
func clusterSubcommands() []*command {
	subs := make([]*command, len(clusterSubs))
	for i, sc := range clusterSubs {
		subs[i] = &command{
			name: "cluster|" + sc.name, arity: sc.arity, flags: flagStale,
			acl: "@slow", run: cmdClusterDisabled,
			doc: docMeta{group: "cluster", since: "3.0.0", complexity: "O(1)",
				summary: "Cluster subcommand " + sc.name + " (cluster support is disabled)."},
		}
	}
	return subs
}

// cmdClusterDisabled answers CLUSTER ..., READONLY and READWRITE.
func cmdClusterDisabled(c *conn, _ [][]byte) { c.err(errClusterDisabled) }

package cacheclient

// Source says where a value came from.
type Source uint8

const (
	// SourceNone means no value was obtained (an error, a shed request, or
	// a lookup without a loader that found nothing).
	SourceNone Source = iota
	// SourceL1 is the in-process cache.
	SourceL1
	// SourceL2 is the node tier.
	SourceL2
	// SourceOrigin is the loader.
	SourceOrigin
)

// String returns "none", "l1", "l2" or "origin".
func (s Source) String() string {
	switch s {
	case SourceL1:
		return "l1"
	case SourceL2:
		return "l2"
	case SourceOrigin:
		return "origin"
	}
	return "none"
}

// Info reports how GetInfo or AppendGet obtained its answer.
type Info struct {
	// Source is where the value (or the negative answer) came from.
	Source Source
	// Stale is true when the value is past its fresh window (T1) but inside
	// its stale window (T2): served because the origin failed or was shed,
	// or because StaleWhileRevalidate is on.
	Stale bool
	// Shared is true when this call waited on a load (L2 request and/or
	// origin call) together with other callers for the same key.
	Shared bool
	// Negative is true when the answer is a cached or fresh "not found".
	Negative bool
}

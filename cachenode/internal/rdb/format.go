package rdb

// The RDB format's constants, as in redis' src/rdb.h.

// Version is the RDB version Writer writes and the newest Reader reads:
// what redis-server 7.0 writes.
const Version = 10

const magic = "REDIS"

// Opcodes (a byte where a value type is expected).
const (
	opFunction2     = 245 // a function library (redis 7.0 GA)
	opFunctionPreGA = 246 // a function library in 7.0 rc1/rc2's format
	opModuleAux     = 247
	opIdle          = 248
	opFreq          = 249
	opAux           = 250
	opResizeDB      = 251
	opExpireTimeMs  = 252
	opExpireTime    = 253
	opSelectDB      = 254
	opEOF           = 255
)

// Value types.
const (
	typeString           = 0
	typeList             = 1
	typeSet              = 2
	typeZSet             = 3
	typeHash             = 4
	typeZSet2            = 5
	typeModulePreGA      = 6
	typeModule2          = 7
	typeHashZipmap       = 9
	typeListZiplist      = 10
	typeSetIntset        = 11
	typeZSetZiplist      = 12
	typeHashZiplist      = 13
	typeListQuicklist    = 14
	typeStreamListpacks  = 15
	typeHashListpack     = 16
	typeZSetListpack     = 17
	typeListQuicklist2   = 18
	typeStreamListpacks2 = 19
)

// Length encodings: the two high bits of the first byte.
const (
	len6Bit  = 0
	len14Bit = 1
	len32Bit = 0x80
	len64Bit = 0x81
	lenEnc   = 3 // a special encoding follows in the low 6 bits
)

// Special string encodings.
const (
	encInt8  = 0
	encInt16 = 1
	encInt32 = 2
	encLZF   = 3
)

// Module value opcodes (RDB_TYPE_MODULE_2 values and MODULE_AUX data).
const (
	moduleOpEOF    = 0
	moduleOpSInt   = 1
	moduleOpUInt   = 2
	moduleOpFloat  = 3
	moduleOpDouble = 4
	moduleOpString = 5
)

// TypeName returns the Redis name of an RDB value type ("list", "hash",
// ...), as the skip counts are keyed.
func TypeName(t byte) string {
	switch t {
	case typeString:
		return "string"
	case typeList, typeListZiplist, typeListQuicklist, typeListQuicklist2:
		return "list"
	case typeSet, typeSetIntset:
		return "set"
	case typeZSet, typeZSet2, typeZSetZiplist, typeZSetListpack:
		return "zset"
	case typeHash, typeHashZipmap, typeHashZiplist, typeHashListpack:
		return "hash"
	case typeStreamListpacks, typeStreamListpacks2:
		return "stream"
	case typeModulePreGA, typeModule2:
		return "module"
	}
	return "unknown"
}

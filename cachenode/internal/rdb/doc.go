// Package rdb reads and writes Redis RDB files, the snapshot format of
// redis-server, so that cachenode can load a dump written by redis-server 7
// and write one that redis-server 7 loads.
//
// Writer writes RDB version 10 (what redis-server 7.0 writes): the magic
// "REDIS0010", the aux fields redis-server writes (redis-ver, redis-bits,
// ctime, used-mem, aof-base), one database (SELECTDB 0, RESIZEDB), string
// keys with an optional millisecond expiry time (EXPIRETIME_MS), EOF and the
// CRC-64 checksum. Values that are canonical decimal integers in the int32
// range are written int-encoded, as redis-server writes them; others as
// length-prefixed strings, uncompressed.
//
// Reader reads RDB versions 1 to 10. It returns string keys with their
// absolute expiry time, in every encoding Redis writes (length-prefixed,
// int8/16/32, LZF-compressed). It skips, counting them, the values of every
// other type redis-server 7.0 writes (lists, sets, sorted sets, hashes and
// streams in all their encodings, and module values of the self-describing
// MODULE_2 kind), functions (FUNCTION2) and module aux data (MODULE_AUX);
// the few things that cannot be skipped without the code that wrote them
// (pre-release module values and function libraries) end the read with an
// error saying so. The checksum is verified when the file has one (a zero
// checksum means it was written with rdbchecksum no, as Redis reads it).
//
// Bad input never panics and never allocates more than a bounded amount
// ahead of the bytes actually read: a length is trusted only as far as the
// data behind it arrives (MaxStringLen bounds a single string).
package rdb

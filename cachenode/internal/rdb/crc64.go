package rdb

import "hash/crc64"

// Redis checksums RDB files with its crc64 (src/crc64.c): the Jones
// polynomial (0xad93d23594c935a9, 0x95ac9329ac4bc9b5 reflected), reflected
// input and output, initial value 0 and no final xor. Go's hash/crc64 has the
// same table form but complements the value on the way in and out, which
// crcUpdate undoes.
var jonesTable = crc64.MakeTable(0x95ac9329ac4bc9b5)

// crcUpdate returns the Redis CRC-64 of the bytes summed in crc followed by p.
func crcUpdate(crc uint64, p []byte) uint64 {
	return ^crc64.Update(^crc, jonesTable, p)
}

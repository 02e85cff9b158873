package ring

import (
	"encoding/binary"
	"strconv"
	"testing"

	"github.com/cespare/xxhash/v2"
)

// TestPlacementGolden pins placement across versions. Processes running
// different versions of this package must place keys the same way during a
// rolling deploy, so a change to hashing, jump, remixing or the fallback must
// be deliberate: if this test fails, placement changed for existing tables.
func TestPlacementGolden(t *testing.T) {
	as := addrs(200)
	mostlyDead := New(as...)
	for _, a := range as[:195] {
		mostlyDead = mostlyDead.WithDown(a)
	}
	tests := []struct {
		name string
		r    *Ring
		want uint64
	}{
		{"plain", New(as[:10]...), 0xc396a9840a58d148},
		{"vacancies and down", mustParse(t, "a,b*2,-,c,d,-*2,e down=b,e"), 0xfefbffb9bac7bd02},
		{"mostly dead (fallback)", mostlyDead, 0x7abd2e6866ff9f63},
	}
	for _, tt := range tests {
		d := xxhash.New()
		var buf [8]byte
		for i := range 10_000 {
			key := "golden:" + strconv.Itoa(i)
			owners := tt.r.Owners(key, 3, nil)
			for _, o := range owners {
				d.WriteString(o)
				d.WriteString(",")
			}
			binary.LittleEndian.PutUint64(buf[:], HashKey(key))
			d.Write(buf[:])
		}
		if got := d.Sum64(); got != tt.want {
			t.Errorf("%s: placement digest %#x, want %#x", tt.name, got, tt.want)
		}
	}
}

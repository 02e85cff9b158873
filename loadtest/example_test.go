package loadtest_test

import (
	"fmt"
	"io"
	"net/http"

	"github.com/cachetier/cachetier/loadtest"
)

// The origin simulator is an HTTP server on loopback that counts every call
// per key; what it reports is what the origin saw.
func ExampleStartOrigin() {
	o, err := loadtest.StartOrigin(loadtest.OriginConfig{ValueSize: 16})
	if err != nil {
		panic(err)
	}
	defer o.Close()

	for i := 0; i < 3; i++ {
		resp, err := http.Get(o.URL() + "user:42")
		if err != nil {
			panic(err)
		}
		v, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%d %s\n", resp.StatusCode, v)
	}
	o.SetDown(true)
	resp, err := http.Get(o.URL() + "user:42")
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode)

	st := o.Stats()
	fmt.Printf("calls %d, failed %d, keys %d, max per key %d\n", st.Calls, st.Failed, st.Keys, st.MaxCallsPerKey)
	// Output:
	// 200 user:42|ijklmnop
	// 200 user:42|ijklmnop
	// 200 user:42|ijklmnop
	// 503
	// calls 4, failed 1, keys 1, max per key 4
}

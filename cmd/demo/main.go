// Command demo starts the whole department on one machine: the station
// simulator, a collector and the api with alerting, on embedded defaults.
// The pieces land one issue at a time; until then it says what exists.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "quantrac demo: the simulator, collector and api are being assembled; nothing to start yet")
	os.Exit(1)
}

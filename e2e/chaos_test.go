//go:build e2e || bench

package e2e

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
)

// chaosSeedEnv names the environment variable that sets the seed of the
// chaos scenarios' random choices (scenario 12's kill moments), to replay
// a failure: PAGERGATE_E2E_SEED=<seed printed by the failed run> make e2e.
const chaosSeedEnv = "PAGERGATE_E2E_SEED"

// chaosRand returns the random source of a chaos scenario, seeded from
// chaosSeedEnv when set, else at random, and logs and prints the seed. The
// seed replays the scenario's choices; the daemon's own timing still
// varies from run to run.
func chaosRand(t *testing.T, scenario int) *rand.Rand {
	t.Helper()
	seed := rand.Uint64()
	if v := os.Getenv(chaosSeedEnv); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("%s=%q: want an unsigned integer: %v", chaosSeedEnv, v, err)
		}
	}
	line := fmt.Sprintf("E2E scenario%d: seed=%d (replay: %s=%d)", scenario, seed, chaosSeedEnv, seed)
	t.Log(line)
	fmt.Println(line)
	return rand.New(rand.NewPCG(seed, seed))
}

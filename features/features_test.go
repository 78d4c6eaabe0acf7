// Package features holds jetsse's executable specification: Gherkin
// scenarios (one per rule of the protocol in docs/protocol.md) run by godog
// against the real wiring of cmd/jetsse (embedded nats-server on a random
// port, real HTTP, the spec-compliant SSE decoder), and, for crash tests, the
// real binary.
//
// The steps of one .feature file live in steps_<feature>_test.go; steps that
// several features use live in steps_common*_test.go. Every step is a method
// of the scenario's world (or, for the browser, of its browserWorld).
package features

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/cucumber/godog"
)

func TestFeatures(t *testing.T) {
	paths := []string{"."}
	if p := os.Getenv("FEATURES"); p != "" {
		// Relative to this directory; "features/x.feature" works too.
		paths = []string{strings.TrimPrefix(p, "features/")}
	}
	suite := godog.TestSuite{
		Name: "jetsse",
		ScenarioInitializer: func(sc *godog.ScenarioContext) {
			w := newWorld(t.TempDir())
			sc.After(func(ctx context.Context, _ *godog.Scenario, err error) (context.Context, error) {
				if err != nil && os.Getenv("FEATURES_LOGS") != "" {
					// FEATURES_LOGS=1 shows the servers' logs of a failed scenario.
					for _, name := range w.order {
						t.Logf("--- logs of server %s:\n%s", name, w.servers[name].logs.String())
					}
				}
				w.close()
				return ctx, nil
			})
			w.register(sc)
		},
		Options: &godog.Options{
			Format:   "pretty",
			Paths:    paths,
			Strict:   true,
			TestingT: t,
		},
	}
	if suite.Run() != 0 {
		t.Fatal("feature scenarios failed")
	}
}

// register registers every step: first those several features share, then
// each feature's own.
func (w *world) register(sc *godog.ScenarioContext) {
	w.registerCommonServers(sc)
	w.registerCommonResponses(sc)
	w.registerCommonOperator(sc)
	w.registerCommonPublishing(sc)
	w.registerCommonClients(sc)
	w.registerCommonClientChecks(sc)

	w.registerAdmin(sc)
	w.registerAuthorization(sc)
	w.registerBadInput(sc)
	w.registerBatchPublish(sc)
	w.registerBrowser(sc)
	w.registerCluster(sc)
	w.registerCrash(sc)
	w.registerFailover(sc)
	w.registerGaps(sc)
	w.registerHTTPHygiene(sc)
	w.registerLifecycle(sc)
	w.registerLimits(sc)
	w.registerNATSSecurity(sc)
	w.registerOperations(sc)
	w.registerOperator(sc)
	w.registerPublishing(sc)
	w.registerResume(sc)
	w.registerSessions(sc)
	w.registerStreamTruth(sc)
	w.registerSubscribing(sc)
	w.registerTakeover(sc)
}

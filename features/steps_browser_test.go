package features

import "github.com/cucumber/godog"

// registerBrowser registers the steps of browser.feature (headless Chromium).
func (w *world) registerBrowser(sc *godog.ScenarioContext) {}

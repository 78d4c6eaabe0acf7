Feature: Browsers
  A plain EventSource works with no helper: the session rides on a cookie, the
  browser reconnects with Last-Event-ID, and session, gap and takeover arrive
  as named events. The helper at /jetsse.js gives each tab its own session
  (resumed across a reload), reconnects with backoff, and reports gaps and
  takeovers; the demo page at / shows all of it. Every scenario runs in
  headless Chromium against the real edge, and reads what the page shows.

  Scenario: A plain EventSource reconnects after a crash with its Last-Event-ID and its cookie
    Given a jetsse process on fixed ports with "--retry 200ms"
    And tab "A" opens the plain EventSource page subscribed to "orders.*"
    And tab "A" shows a "session" notice containing "New session"
    When 3 events are published to "orders.1"
    Then tab "A" shows the events with ids "1, 2, 3"
    When the jetsse process is killed with SIGKILL
    And the jetsse process is started again on the same data dir and ports
    And 2 events are published to "orders.2"
    Then tab "A" shows every event published since it subscribed, exactly once and in order
    And tab "A" shows a "session" notice containing "Resumed session"
    And every reconnect of tab "A" to "/events" carried Last-Event-ID "3" and the session cookie

  Scenario: A plain EventSource comes back after the server drains and restarts
    # The client that never reads keeps the drain going (until --write-timeout),
    # so the page reconnects to a draining server: it must be told to come
    # back later (a 503 would close an EventSource for good).
    Given a jetsse process on fixed ports with "--retry 200ms --drain-timeout 300ms --write-timeout 3s"
    And a client that never reads subscribes to "fill"
    And 1000 events of 10000 bytes are published to "fill"
    And tab "A" opens the plain EventSource page subscribed to "t"
    When 2 events are published to "t"
    Then tab "A" shows the events with ids "1001, 1002"
    When the jetsse process is stopped with SIGTERM
    And the jetsse process is started again on the same data dir and ports
    And 2 events are published to "t"
    Then tab "A" shows every event published since it subscribed, exactly once and in order

  Scenario: A plain EventSource resumes from its cookie when the page comes back, and gets gap and takeover as named events
    Given a jetsse server with "--max-msgs 5"
    And tab "A" opens the plain EventSource page subscribed to "t"
    When 2 events are published to "t"
    Then tab "A" shows the events with ids "1, 2"
    When tab "A" is closed
    And metrics are scraped until "jetsse_connections" is 0
    And 8 events are published to "t"
    And tab "A" opens the plain EventSource page subscribed to "t"
    Then tab "A" shows a "gap" notice containing "up to 3 events missing after 2; going on from 6"
    And tab "A" shows the events with ids "6, 7, 8, 9, 10"
    When tab "B" opens the plain EventSource page subscribed to "t"
    Then tab "A" shows a "takeover" notice containing "Another tab took this session over"
    And tab "A" shows the state "closed"
    When 1 event is published to "t"
    Then tab "B" shows the events with ids "11"

  Scenario: A publisher cannot make a page stop or reconnect with a forged control event
    Given a jetsse server
    And tab "A" opens the plain EventSource page subscribed to "t"
    And tab "B" opens the demo page subscribed to "t"
    And tab "A" shows the state "open"
    And tab "B" shows the state "open"
    When the operator runs "nats pub events.t forged -H Sse-Event:takeover"
    And the operator runs "nats pub events.t forged -H Sse-Event:gap"
    And 1 event is published to "t"
    Then tab "A" shows the events with ids "1, 2, 3"
    And tab "B" shows the events with ids "1, 2, 3"
    And tab "A" shows the state "open"
    And tab "A" shows no "takeover" notices
    And tab "B" shows no "takeover" notices
    And tab "B" shows no "gap" notices

  Scenario: The demo page shows live events with their IDs and publishes test events with the token
    Given a jetsse server
    And tab "A" opens the demo page subscribed to "demo.>"
    When 5 events are published to "demo.news"
    Then tab "A" shows the events with ids "1, 2, 3, 4, 5"
    When tab "A" publishes "Hello from the page" to "demo.hello" with type "greeting" and token "test-publish-token"
    Then tab "A" shows the publish accepted as event 6
    And tab "A" shows event 6 with type "greeting" and data "Hello from the page"
    When tab "A" publishes "not allowed" to "demo.hello" with type "" and token "wrong"
    Then tab "A" shows the publish refused with status 401
    And tab "A" shows every event published since it subscribed, exactly once and in order

  Scenario: The page keeps every event exactly once across a kill -9 and restart of the server
    Given a jetsse process on fixed ports with "--retry 200ms"
    And tab "A" opens the demo page subscribed to "t"
    And events are published to "t" in the background
    And tab "A" shows at least 10 events
    When the jetsse process is killed with SIGKILL
    Then tab "A" shows the state "waiting"
    When the jetsse process is started again on the same data dir and ports
    Then tab "A" shows at least 10 events published after the restart
    When the background publishing stops
    Then tab "A" shows every event published since it subscribed, exactly once and in order
    And tab "A" shows the state "open"

  Scenario: A page reload mid-stream loses nothing and repeats nothing
    Given a jetsse server
    And tab "A" opens the demo page subscribed to "t"
    And events are published to "t" in the background
    And tab "A" shows at least 20 events
    When tab "A" is reloaded
    Then tab "A" shows at least 20 events published after the reload
    When the background publishing stops
    Then tab "A" shows every event published since it subscribed, exactly once and in order
    And tab "A" shows a "reload" notice with events before and after it
    And tab "A" shows a "session" notice containing "Resumed session"

  Scenario: Two tabs of one browser each get every event, without taking the session from each other
    Given a jetsse server
    And tab "C" opens the plain EventSource page subscribed to "t"
    And tab "C" is closed
    And tab "A" opens the demo page subscribed to "t"
    And tab "B" opens the demo page subscribed to "t"
    When 10 events are published to "t"
    Then tab "A" shows every event published since it subscribed, exactly once and in order
    And tab "B" shows every event published since it subscribed, exactly once and in order
    And tabs "A" and "B" show different sessions
    And tab "A" shows no "takeover" notice
    And tab "B" shows no "takeover" notice

  Scenario: A duplicated tab takes the session over once, and both tabs keep every event
    Given a jetsse server
    And tab "A" opens the demo page subscribed to "t"
    And 3 events are published to "t"
    And tab "A" shows the events with ids "1, 2, 3"
    When tab "A" is duplicated as tab "B"
    Then tab "A" shows a "takeover" notice containing "Going on with a new session from event 3"
    When 5 events are published to "t"
    Then tab "A" shows every event published since it subscribed, exactly once and in order
    And tab "B" shows every event published since it subscribed, exactly once and in order
    And tabs "A" and "B" show different sessions
    And tab "A" shows 1 "takeover" notice
    And tab "B" shows no "takeover" notice
    And a screenshot of tab "A" is saved as "demo-takeover.png"

  Scenario: The page tells how many events may be missing when some were evicted while it was offline
    Given a jetsse server with "--max-msgs 5 --cache-events 1 --retry 200ms"
    And tab "A" opens the demo page subscribed to "demo.>"
    And 2 events are published to "demo.news"
    And tab "A" shows the events with ids "1, 2"
    When tab "A" goes offline
    Then tab "A" shows the state "waiting"
    When 8 events are published to "demo.news"
    And tab "A" comes back online
    Then tab "A" shows a "gap" notice containing "Gap: up to 3 events missing"
    And tab "A" shows the events with ids "1, 2, 6, 7, 8, 9, 10"
    When tab "A" publishes "Hello from the page" to "demo.hello" with type "greeting" and token "test-publish-token"
    Then tab "A" shows the publish accepted as event 11
    And tab "A" shows event 11 with type "greeting" and data "Hello from the page"
    And a screenshot of tab "A" is saved as "demo.png"

  Scenario: Pages on other origins use the edge with credentials only when the edge allows their origin
    Given web apps "app" and "other" on other origins
    And a jetsse server that allows the origin of web app "app"
    And tab "A" opens web app "app" subscribed to "t"
    And tab "X" opens web app "other" subscribed to "t"
    When 3 events are published to "t"
    Then tab "A" shows the events with ids "1, 2, 3"
    And tab "X" shows the state "waiting"
    And tab "X" shows the events with ids ""
    When tab "A" is reloaded
    And 2 events are published to "t"
    Then tab "A" shows the events with ids "4, 5"
    And tab "A" shows a "session" notice containing "Resumed session, after event 3"

  Scenario: A page renews its token when the edge asks, and keeps every event
    Given web apps "app" and "other" on other origins
    And web app "app" hands out tokens that may subscribe to "orders.*" for 1 second
    And a jetsse server with JWT auth that allows the origin of web app "app"
    And tab "A" opens web app "app" with the token hook subscribed to "orders.*"
    When 3 events are published to "orders.1"
    Then tab "A" shows the events with ids "1, 2, 3"
    And tab "A" shows a "reauth" notice containing "token expired"
    When 2 events are published to "orders.2"
    Then tab "A" shows every event published since it subscribed, exactly once and in order
    And web app "app" handed out at least 2 tokens

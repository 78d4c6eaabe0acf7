Feature: The stream is the truth
  Operators manage jetsse's stream and session bucket with the nats CLI. What
  they remove (a purge, a deleted message, a lowered limit) is never delivered
  afterwards, on any path: this node's memory cache, JetStream replay or live.
  A client whose next events are gone is told so with a gap. A deleted stream
  or bucket is recreated by the running edge. Every scenario runs with the
  default cache, the configuration users run.

  Scenario: After a purge, a resume gets a gap and none of the purged events
    Given a jetsse server
    And 10 events are published to "t"
    When the operator runs "nats stream purge EVENTS -f"
    And client "alice" subscribes to "t" with Last-Event-ID "3"
    Then client "alice" receives a gap with last_event_id "3" and first_available "11" before any replayed event
    When client "bob" subscribes to ">" with Last-Event-ID "0"
    Then client "bob" receives a gap with last_event_id "0" and first_available "11" before any replayed event
    When 1 event is published to "t"
    Then client "alice" has received the events with ids "11"
    And client "bob" has received the events with ids "11"

  Scenario: A deleted message is never delivered to a resuming client
    Given a jetsse server
    And 13 events are published to "t"
    When the operator runs "nats stream rmm EVENTS 12 -f"
    And client "alice" subscribes to "t" with Last-Event-ID "10"
    And 1 event is published to "t"
    Then client "alice" has received the events with ids "11, 13, 14"

  Scenario: A lowered limit takes effect for resuming clients at once
    Given a jetsse server
    And 13 events are published to "t"
    When the operator runs "nats stream edit EVENTS --max-msgs=2 -f"
    And client "alice" subscribes to "t" with Last-Event-ID "5"
    Then client "alice" receives a gap with last_event_id "5" and first_available "12" before any replayed event
    And client "alice" has received the events with ids "12, 13"
    And metrics are scraped until "jetsse_gaps_total" is 1

  Scenario: An operator's edit survives an edge restart
    Given a jetsse server
    When the operator runs "nats stream edit EVENTS --max-msgs=7 -f"
    And the server restarts with ""
    And the operator runs "nats stream info EVENTS --json"
    Then the output shows the stream on "events.>" keeping at most 7 messages
    When the server restarts with "--max-msgs 9"
    And the operator runs "nats stream info EVENTS --json"
    Then the output shows the stream on "events.>" keeping at most 9 messages

  Scenario: A publish bigger than the stream can hold is refused over HTTP and NATS
    Given a jetsse server with "--max-bytes 20000"
    And client "alice" subscribes to "t"
    And 3 events are published to "t"
    When I POST /publish with the token and a body of 30000 bytes
    Then the response status is 413
    And the response is a JSON error
    And the operator's JetStream publish of 30000 bytes to "events.t" is refused
    And the stream holds 3 events
    When 1 event is published to "t"
    Then client "alice" has received the events with ids "1, 2, 3, 4"
    And client "alice" got no gap event

  Scenario: A live client is told when events left the stream before the edge read them
    Given a jetsse server
    And client "alice" subscribes to "t"
    And 2 events are published to "t"
    And client "alice" has received 2 events
    When the operator pauses the edge's live consumer
    And 3 events are published to "t"
    And the operator runs "nats stream rmm EVENTS 3 -f"
    And the operator runs "nats stream rmm EVENTS 4 -f"
    And the operator resumes the edge's live consumer
    Then client "alice" receives a live gap with last_event_id "2" and first_available "5" after event "2"
    And client "alice" has received the events with ids "1, 2, 5"
    And client "alice" was never disconnected

  Scenario: A deleted session bucket is recreated and attached sessions go on
    Given a jetsse server
    And client "alice" subscribes to "t"
    And 2 events are published to "t"
    And client "alice" has received 2 events
    When the operator runs "nats kv del jetsse_sessions -f"
    Then "/readyz" answers 200 within 10 seconds
    And the operator waits until "nats kv ls jetsse_sessions" lists the session of client "alice"
    When 1 event is published to "t"
    Then client "alice" has received 3 events
    And client "alice" was never disconnected
    When client "alice" reconnects with its session cookie only
    Then client "alice" is told the session was resumed from "3"
    And client "bob" subscribes to "t"

  Scenario: A deleted stream is recreated; connected clients are told and get a gap
    Given a jetsse server with "--max-msgs 1000"
    And client "alice" subscribes to "t" and reconnects like EventSource
    And 5 events are published to "t"
    And client "alice" has received 5 events
    When the operator runs "nats stream rm EVENTS -f"
    Then the operator waits until "nats stream info EVENTS --json" succeeds
    And the output shows the stream on "events.>" keeping at most 1000 messages
    And "/readyz" answers 200 within 10 seconds
    And client "alice" receives a gap with last_event_id "5" and first_available "1" before any replayed event
    When 2 events are published to "t"
    Then client "alice" has received the events with ids "1, 2, 3, 4, 5, 1, 2"
    When the server is asked to stop
    Then the server stops within 5 seconds, having logged at most 2 warnings

  Scenario: A data dir that holds sessions but lost its session key refuses to start
    Given a jetsse server
    And client "alice" subscribes to "t"
    And client "alice" disconnects
    When the server is stopped and its session key file is deleted
    Then the server does not start again with "", saying "session key"
    When the server restarts with "--regenerate-session-key"
    Then the server's log has a warning containing "every session token issued before is now invalid"
    When client "alice" reconnects with its session cookie only
    Then client "alice" is told the session is new, live only

  Scenario: Publishers cannot forge control events
    Given a jetsse server
    And client "alice" subscribes to "t"
    When I POST /publish with the token and body "{\"topic\":\"t\",\"event\":\"takeover\",\"data\":\"{}\"}"
    Then the response status is 400
    And the response is a JSON error
    When the operator runs "nats pub events.t forged -H Sse-Event:takeover"
    And the operator runs "nats pub events.t forged -H Sse-Event:gap"
    And the operator runs "nats pub events.t forged -H Sse-Event:session"
    Then client "alice" has received 3 events
    And no event of client "alice" carries an event type
    And client "alice" was never disconnected
    And metrics are scraped until "jetsse_control_types_dropped_total" is 3

  Scenario: Replayed events do not count as delivery lag
    Given a jetsse server
    And 5 events are published to "t"
    When client "alice" subscribes to "t" with Last-Event-ID "0"
    And client "alice" has received 5 events
    Then the metrics include
      | metric                            | value |
      | jetsse_delivery_lag_seconds_count | 0     |
    When 1 event is published to "t"
    And client "alice" has received 6 events
    Then metrics are scraped until "jetsse_delivery_lag_seconds_count" is 1

  Scenario: Refused subscriptions leave nothing in memory
    Given a jetsse server
    When 200 clients subscribe to distinct topics with Last-Event-ID "x" and are refused with 400
    Then metrics are scraped until "jetsse_topic_sets" is 0
    When client "alice" subscribes to "a.b"
    And client "bob" subscribes to "a.b"
    Then metrics are scraped until "jetsse_topic_sets" is 1
    When client "alice" disconnects
    And client "bob" disconnects
    Then metrics are scraped until "jetsse_topic_sets" is 0

Feature: Surviving a crash
  Kill -9 the server and start it again on the same data dir: tokens stay
  valid (the session key is persisted), events published before the crash are
  replayed to clients that come back, and nothing acknowledged to a publisher
  is lost (with --nats-sync always).

  Scenario: Clients with a Last-Event-ID get every event across a crash
    Given a jetsse process
    And client "alice" subscribes to "orders.*"
    And 5 events are published to "orders.1"
    And client "alice" has received 5 events
    When the jetsse process is killed with SIGKILL
    And client "alice" notices its connection ended
    And the jetsse process is started again on the same data dir
    And 3 events are published to "orders.2"
    And client "alice" reconnects with its Last-Event-ID
    Then client "alice" is told the session was resumed from its last event ID
    And client "alice" has received every event published to its topics since it subscribed, exactly once and in order
    And the stream holds 8 events

  Scenario: A page refresh after a crash resumes from the session's recorded position
    Given a jetsse process
    And client "alice" subscribes to "t"
    And 3 events are published to "t"
    And client "alice" has received 3 events
    And client "alice" disconnects
    And the session of client "alice" has its position 3 recorded in JetStream
    And 2 events are published to "t"
    When the jetsse process is killed with SIGKILL
    And the jetsse process is started again on the same data dir
    And client "alice" reconnects with its session cookie only
    Then client "alice" is told the session was resumed from "3"
    And client "alice" has received every event published to its topics since it subscribed, exactly once and in order

  Scenario: Every acknowledged publish survives a crash in the middle of a burst
    Given a jetsse process
    When 500 events are published to "burst" while the jetsse process is killed with SIGKILL partway
    And the jetsse process is started again on the same data dir
    Then the stream holds every event whose publish was acknowledged

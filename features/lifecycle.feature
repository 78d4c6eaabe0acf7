Feature: Session lifecycle events for backends
  Every edge node announces what happens to sessions on NATS subjects
  jetsse.sessions.<kind>.<session ID> (the prefix is --lifecycle-prefix):
  created, resumed, takeover, detached, expired, gap. Each message is the JSON
  of SessionLifecycleEvent (proto/jetsse/v1) with the session, its identity,
  topics, node, position and reconnection count. docs/protocol.md, "Sessions
  for operators and backends", is the contract.

  Scenario: A session's life is announced, in order
    Given a jetsse server
    And a backend listens on "jetsse.sessions.>"
    When client "a" subscribes to "orders.*"
    Then the backend gets a "created" event for the session of client "a" with topics "orders.*", no position and 0 reconnects
    When 3 events are published to "orders.1"
    And client "a" has received 3 events
    And client "a" disconnects
    Then the backend gets a "detached" event for the session of client "a" at position "3"
    When client "a" reconnects with its session cookie only
    Then the backend gets a "resumed" event for the session of client "a" at position "3" with 1 reconnect
    When client "b" subscribes to "orders.*" with the session of client "a"
    Then the backend gets a "takeover" event for the session of client "a" at position "3"
    And the backend gets a "resumed" event for the session of client "a" at position "3" with 2 reconnects
    And every event the backend got names this node and the session's topics

  Scenario: The identity rides along when authorization is on
    Given a jetsse server with JWT auth
    And a backend listens on "jetsse.sessions.created.*"
    And a token for "alice" that may subscribe to "inbox.alice"
    When client "a" subscribes to "inbox.alice" with the token of "alice"
    Then the backend gets a "created" event for the session of client "a" with identity "alice"

  Scenario: A gap is announced with what the client was told
    Given a jetsse server with "--max-msgs 5"
    And a backend listens on "jetsse.sessions.gap.*"
    And client "a" subscribes to "t"
    And 2 events are published to "t"
    And client "a" has received 2 events
    And client "a" disconnects
    When 8 events are published to "t"
    And client "a" reconnects with its Last-Event-ID
    Then the backend gets a "gap" event for the session of client "a" with last_event_id "2" and first_available "6"

  Scenario: An expiry is announced once, by a node that never held the session, with what it was
    Given a NATS cluster of 3 servers
    And jetsse edges "edge-a" and "edge-b" on the cluster with "--replicas 3 --session-ttl 4s --lifecycle-prefix ops.sessions" sharing session keys "k1"
    And a backend listens on "ops.sessions.>"
    And client "a" subscribes to "orders.*" on "edge-a"
    And 2 events are published to "orders.1"
    And client "a" has received 2 events
    And client "a" disconnects
    And the backend gets a "detached" event for the session of client "a" at position "2"
    When the server "edge-a" stops
    Then the backend gets an "expired" event for the session of client "a" at position "2" from node "edge-b"
    And the backend got exactly one "expired" event for the session of client "a" once every edge has read the expiries

  Scenario: An expiry while no edge runs is announced when one starts again
    Given a NATS cluster of 3 servers
    And jetsse edges "edge-a" and "edge-b" on the cluster with "--replicas 3 --session-ttl 4s" sharing session keys "k1"
    And a backend listens on "jetsse.sessions.expired.*"
    And client "a" subscribes to "orders.*" on "edge-a"
    And client "a" disconnects
    And the session of client "a" has its position 0 recorded in JetStream
    When every edge stops
    And the record of the session of client "a" expires
    And the edge "edge-b" starts again
    Then the backend gets an "expired" event for the session of client "a" from node "edge-b"

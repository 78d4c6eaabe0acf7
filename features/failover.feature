Feature: Failover
  Two edges on a 3-node NATS cluster, the stream and the session bucket
  replicated on all three (--replicas 3). An edge that dies, the NATS server
  leading the stream, the whole NATS cluster or a rolling restart of the
  edges loses no acknowledged event: a client that resumes by Last-Event-ID
  gets every event exactly once, one that resumes by its session cookie only
  (a page refresh) gets every event at least once, in order on each
  connection. docs/protocol.md, "Failover", is the contract.

  Background:
    Given a NATS cluster of 3 servers

  Scenario: An edge killed mid-stream: its clients resume on the other edge
    Given jetsse edge processes "edge-a" and "edge-b" on the cluster with "--replicas 3" sharing session keys "k1"
    And client "alice" subscribes to "t" on "edge-a"
    And client "bob" subscribes to "t" on "edge-a"
    And client "carol" subscribes to "t" on "edge-b"
    And a backend publishes to "t" steadily, retrying each event until it is acknowledged
    And clients "alice, bob, carol" receive 20 more events
    When the edge "edge-a" is killed with SIGKILL
    And client "alice" notices its connection ended
    And client "bob" notices its connection ended
    And client "alice" reconnects to "edge-b" with its Last-Event-ID
    And client "bob" reconnects to "edge-b" with its session cookie only
    Then client "alice" is told the session was resumed from its last event ID
    And client "bob" is told the session was resumed
    When clients "alice, bob, carol" receive 20 more events
    And the backend stops publishing
    Then client "alice" has received every event published to its topics since it subscribed, exactly once and in order
    And client "bob" has received every event published to its topics since it subscribed, at least once, in order on each connection
    And client "carol" has received every event published to its topics since it subscribed, exactly once and in order
    And client "carol" was never disconnected

  Scenario: The NATS server leading the stream stops mid-publish
    Given jetsse edges "edge-a" and "edge-b" on the cluster with "--replicas 3 --retry 500ms" sharing session keys "k1"
    And client "alice" subscribes to "t" on "edge-a" and reconnects like EventSource
    And client "bob" subscribes to "t" on "edge-b" and reconnects like EventSource
    And a backend publishes to "t" steadily, retrying each event until it is acknowledged
    And clients "alice, bob" receive 20 more events
    When the NATS server leading the stream stops
    Then another NATS server leads the stream
    # An edge whose live consumer was on the stopped server notices only
    # after two missed heartbeats (2 x 5 s), then reads on from where it was.
    And clients "alice, bob" receive 20 more events within 30 seconds
    When the backend stops publishing
    Then the stream holds every event whose publish was acknowledged
    And every client has received every event published to its topics since it subscribed, exactly once and in order
    And client "alice" got no gap event
    And client "bob" got no gap event
    And client "alice" was never disconnected
    And client "bob" was never disconnected

  Scenario: The whole NATS cluster restarts under the edges
    Given jetsse edges "edge-a" and "edge-b" on the cluster with "--replicas 3 --retry 500ms" sharing session keys "k1"
    And client "alice" subscribes to "t" on "edge-a" and reconnects like EventSource
    And client "bob" subscribes to "t" on "edge-b"
    And 5 events are published to "t"
    And client "alice" has received 5 events
    And client "bob" has received 5 events
    And client "bob" disconnects
    And the session of client "bob" has its position 5 recorded in JetStream
    When every NATS server of the cluster stops
    Then every edge answers /readyz with 503
    When every NATS server of the cluster starts again on its address and store dir
    Then every edge answers /readyz with 200
    When 5 events are published to "t", each retried until it is acknowledged
    And client "bob" reconnects with its session cookie only
    Then client "bob" is told the session was resumed from "5"
    And the stream holds every event whose publish was acknowledged
    And client "alice" was never disconnected
    And every client has received every event published to its topics since it subscribed, exactly once and in order

  Scenario: A rolling restart of both edges under a steady publish
    Given jetsse edge processes "edge-a" and "edge-b" on the cluster with "--replicas 3 --retry 500ms" sharing session keys "k1"
    And a load balancer in front of the edges
    And clients "c1, c2, c3, c4" subscribe to "t" through the load balancer and reconnect like EventSource
    And a backend publishes to "t" steadily, retrying each event until it is acknowledged
    And clients "c1, c2, c3, c4" receive 10 more events
    # A process stops on SIGTERM: it drains, each stream ending with a
    # fresh retry.
    When the server "edge-a" stops
    And the edge "edge-a" starts again
    And clients "c1, c2, c3, c4" receive 10 more events
    And the server "edge-b" stops
    And the edge "edge-b" starts again
    And clients "c1, c2, c3, c4" receive 10 more events
    And the backend stops publishing
    Then every edge answers /readyz with 200
    And every client has received every event published to its topics since it subscribed, exactly once and in order
    And every client has reconnected at least once

  Scenario: A detached session whose record was lost resumes from its consumer
    Given jetsse edges "edge-a" and "edge-b" on the cluster with "--replicas 3" sharing session keys "k1"
    And client "bob" subscribes to "t" on "edge-a"
    And 5 events are published to "t"
    And client "bob" has received 5 events
    And client "bob" disconnects
    And the session of client "bob" has its position 5 recorded in JetStream
    When the session bucket is deleted and an edge makes it again
    And 2 events are published to "t"
    And client "bob" reconnects to "edge-b" with its session cookie only
    Then client "bob" is told the session was resumed from "5"
    And client "bob" has received every event published to its topics since it subscribed, exactly once and in order

Feature: Many edge nodes on one NATS cluster
  Several edges serve the same stream on a 3-node NATS cluster; any node can
  resume any session, and a session has one connection across all nodes.

  Background:
    Given a NATS cluster of 3 servers
    And jetsse edges "edge-a" and "edge-b" on the cluster with "--replicas 3" sharing session keys "k1"

  Scenario: A session resumes on another node
    Given client "alice" subscribes to "t" on "edge-a"
    And 3 events are published to "t"
    And client "alice" has received 3 events
    And client "alice" disconnects
    And 2 events are published to "t"
    When client "alice" reconnects to "edge-b" with its session cookie only
    # Another node reads the session's record as the cluster has it: a
    # record a moment old can only repeat events, never skip one.
    Then client "alice" is told the session was resumed
    And client "alice" has received every event published to its topics since it subscribed, at least once, in order on each connection

  Scenario: A connection on another node takes the session over
    Given client "tab1" subscribes to "t" on "edge-a"
    And 2 events are published to "t"
    And client "tab1" has received 2 events
    When client "tab2" subscribes to "t" on "edge-b" with the session of client "tab1"
    Then client "tab1" receives a takeover event for its session and its connection ends
    When 3 events are published to "t"
    Then client "tab2" has received a gapless run of events ending at id 5 that starts at or before id 3

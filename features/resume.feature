Feature: Resuming after a disconnect
  A client that comes back gets every event it missed, in order, none twice:
  from its Last-Event-ID (header or query parameter), or, when it only has its
  session (a page refresh keeps the cookie), from the session's stored position.

  Background:
    Given a jetsse server
    And client "alice" subscribes to "orders.*"
    And 3 events are published to "orders.1"
    And client "alice" has received 3 events
    And client "alice" disconnects
    And 5 events are published to "orders.2"

  Scenario: Reconnecting with the Last-Event-ID header
    When client "alice" reconnects with its Last-Event-ID
    Then client "alice" is told the session was resumed from its last event ID
    And client "alice" has received every event published to its topics since it subscribed, exactly once and in order

  Scenario: Reconnecting with the lastEventId query parameter
    When client "alice" reconnects with its Last-Event-ID in the query
    Then client "alice" is told the session was resumed from its last event ID
    And client "alice" has received every event published to its topics since it subscribed, exactly once and in order

  Scenario: A page refresh resumes from the session cookie alone
    When client "alice" reconnects with its session cookie only
    Then client "alice" is told the session was resumed from its last event ID
    And client "alice" has received every event published to its topics since it subscribed, exactly once and in order

  Scenario: A non-browser client resumes with the Jetsse-Session header alone
    When client "alice" reconnects with its session header only
    Then client "alice" is told the session was resumed from its last event ID
    And client "alice" has received every event published to its topics since it subscribed, exactly once and in order

  Scenario: The client's own position wins over the session's
    When client "alice" reconnects with its session header and Last-Event-ID "2"
    Then client "alice" is told the session was resumed from "2"
    And client "alice" has received the events with ids "1, 2, 3, 3, 4, 5, 6, 7, 8"

  Scenario: Resuming a session on a page refresh keeps working across several refreshes
    When client "alice" reconnects with its session cookie only
    And 2 events are published to "orders.3"
    And client "alice" has received 10 events
    And client "alice" disconnects
    And 4 events are published to "orders.4"
    And client "alice" reconnects with its session cookie only
    Then client "alice" has received every event published to its topics since it subscribed, exactly once and in order

  Scenario: A long absence is resumed from the cache in many writes, and the session's position follows them
    # With the default cache, about a megabyte of missed events: the edge
    # writes a catch-up in writes of 64 KiB, and the position it stores for
    # the session is the last event the client's TCP stack acknowledged.
    Given 4000 events of 250 bytes are published to "orders.5"
    When client "alice" reconnects with its Last-Event-ID
    Then client "alice" has received every event published to its topics since it subscribed, exactly once and in order
    When client "alice" disconnects
    And 3 events are published to "orders.6"
    And client "alice" reconnects with its session cookie only
    Then client "alice" has received every event published to its topics since it subscribed, exactly once and in order

  Scenario: Events are replayed from JetStream when they are older than the node's cache
    Given the server restarts with "--cache-events 2"
    When client "alice" reconnects with its Last-Event-ID
    Then client "alice" has received every event published to its topics since it subscribed, exactly once and in order

  Scenario: Page refreshes while events are being published lose nothing
    # Events written to a connection whose client just went away are never
    # acknowledged by it; the session's position must not count them.
    When client "alice" reconnects with its session cookie only
    And client "alice" refreshes 40 times while events are published to "orders.9"
    Then client "alice" has received every event published to its topics since it subscribed, at least once, in order on each connection

Feature: Telling clients about evicted events
  When events a client missed were evicted by the stream's limits, the client
  first gets a gap event (last_event_id, first_available), then the retained
  events. Never a silent skip, never a replay from zero. Every scenario runs
  with the default cache (what users run: the evicted events are still in the
  node's memory) and with a cache of one event (they are not).

  Scenario Outline: Events evicted by --max-msgs while the client was away
    Given a jetsse server with "--max-msgs 5 <cache>"
    And client "alice" subscribes to "orders.*"
    And 2 events are published to "orders.1"
    And client "alice" has received 2 events
    And client "alice" disconnects
    And 8 events are published to "orders.1"
    When client "alice" reconnects with its Last-Event-ID
    Then client "alice" receives a gap with last_event_id "2" and first_available "6" before any replayed event
    And client "alice" has received the events with ids "1, 2, 6, 7, 8, 9, 10"

    Examples:
      | cache              |
      |                    |
      | --cache-events 1   |

  Scenario Outline: Events evicted by --max-age while the client was away
    Given a jetsse server with "--max-age 1s <cache>"
    And client "alice" subscribes to "orders.*"
    And 2 events are published to "orders.1"
    And client "alice" has received 2 events
    And client "alice" disconnects
    And 3 events are published to "orders.1"
    And the stream's first sequence passes 5
    And 2 events are published to "orders.1"
    When client "alice" reconnects with its Last-Event-ID
    Then client "alice" receives a gap with last_event_id "2" and first_available "6" before any replayed event
    And client "alice" has received the events with ids "1, 2, 6, 7"

    Examples:
      | cache              |
      |                    |
      | --cache-events 1   |

  Scenario Outline: Events evicted by --max-bytes while the client was away
    Given a jetsse server with "--max-bytes 20000 <cache>"
    And client "alice" subscribes to "t"
    And 2 events of 1000 bytes are published to "t"
    And client "alice" has received 2 events
    And client "alice" disconnects
    And 40 events of 1000 bytes are published to "t" one at a time
    When client "alice" reconnects with its Last-Event-ID
    Then client "alice" receives a gap from "2" to the stream's first sequence before any replayed event
    And client "alice" has received every event still in the stream after the gap, in order

    Examples:
      | cache              |
      |                    |
      | --cache-events 1   |

  Scenario Outline: A page refresh after eviction reports the gap too
    Given a jetsse server with "--max-msgs 3 <cache>"
    And client "alice" subscribes to "t"
    And 2 events are published to "t"
    And client "alice" has received 2 events
    And client "alice" disconnects
    And 6 events are published to "t"
    When client "alice" reconnects with its session cookie only
    Then client "alice" receives a gap with last_event_id "2" and first_available "6" before any replayed event
    And client "alice" has received the events with ids "1, 2, 6, 7, 8"

    Examples:
      | cache              |
      |                    |
      | --cache-events 1   |

  Scenario: A Last-Event-ID from the future (a recreated stream) is a gap, then live
    Given a jetsse server
    And 4 events are published to "t"
    When client "bob" subscribes to "t" with Last-Event-ID "1000"
    Then client "bob" receives a gap with last_event_id "1000" and first_available "5" before any replayed event
    And client "bob" is told the session is new, starting after "1000"
    When 2 events are published to "t"
    Then client "bob" has received the events with ids "5, 6"

  Scenario: No gap when nothing was evicted
    Given a jetsse server with "--max-msgs 100"
    And client "alice" subscribes to "t"
    And 2 events are published to "t"
    And client "alice" has received 2 events
    And client "alice" disconnects
    And 3 events are published to "t"
    When client "alice" reconnects with its Last-Event-ID
    Then client "alice" has received every event published to its topics since it subscribed, exactly once and in order
    And client "alice" got no gap event

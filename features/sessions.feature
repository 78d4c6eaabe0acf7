Feature: Session identity and lifetime
  A session is carried by a signed token (cookie or Jetsse-Session header). Its
  record (owner, position, topics) lives in the KV bucket jetsse_sessions while
  it exists; once it detaches it is also the durable consumer sse-<id>, and
  JetStream removes both when it stays detached longer than --session-ttl.

  Scenario: A detached session is stored as a consumer with its topics and creation time
    Given a jetsse server
    And client "alice" subscribes to "orders.*, users.>"
    And 2 events are published to "orders.1"
    And client "alice" has received 2 events
    When client "alice" disconnects
    Then the session consumer of client "alice" exists with metadata topics "orders.*, users.>"
    And the session of client "alice" has its position 2 recorded in JetStream
    And the session consumer of client "alice" has no token in its metadata
    And the session record of client "alice" has no token in it

  Scenario: A session attached again gives its consumer back
    Given a jetsse server
    And client "alice" subscribes to "t"
    And client "alice" disconnects
    And the session consumer of client "alice" exists
    When client "alice" reconnects with its session cookie only
    Then client "alice" is told the session was resumed
    And the session consumer of client "alice" is removed within 10 seconds
    And the session record of client "alice" exists

  Scenario: An attached session outlives its TTL; a detached one is removed after it
    Given a jetsse server with "--session-ttl 2s"
    And client "alice" subscribes to "t"
    When client "alice" stays connected for 3 seconds
    Then the session record of client "alice" exists
    When client "alice" disconnects
    Then the session consumer of client "alice" exists
    And the session of client "alice" is removed within 10 seconds
    When client "alice" reconnects with its session cookie only
    Then client "alice" is told the session is new, live only
    And client "alice" has a different session than before

  Scenario Outline: A token that fails verification never resumes anything
    Given a jetsse server
    And client "alice" subscribes to "t"
    And 2 events are published to "t"
    And client "alice" has received 2 events
    And client "alice" disconnects
    When client "mallory" subscribes to "t" presenting <token>
    Then client "mallory" is told the session is new, live only
    And client "mallory" has a session different from client "alice"

    Examples:
      | token                                   |
      | alice's token with one character changed |
      | alice's token truncated                 |
      | a token signed with another key         |
      | a random string as token                |
      | a 10 kB token                           |

  Scenario: Tokens signed with a rotated-out key still verify while the key is listed
    Given a jetsse server with session keys "k1"
    And client "alice" subscribes to "t"
    And 1 event is published to "t"
    And client "alice" has received 1 event
    And client "alice" disconnects
    When the server restarts with session keys "k2, k1"
    And 2 events are published to "t"
    And client "alice" reconnects with its session cookie only
    Then client "alice" is told the session was resumed from its last event ID
    And client "alice" has received every event published to its topics since it subscribed, exactly once and in order
    And client "alice" got a token different from its first one

  Scenario: Subscribing with other topics updates the session's topics
    Given a jetsse server
    And client "alice" subscribes to "a"
    And client "alice" disconnects
    When client "alice" subscribes to "b" with its session cookie
    Then client "alice" is told the session was resumed
    When client "alice" disconnects
    Then the session consumer of client "alice" exists with metadata topics "b"

  Scenario: Past --max-sessions, detached sessions keep only their record and still resume
    # The limit counts every consumer on the stream: the node's own live
    # consumer is one of the 3.
    Given a jetsse server with "--max-sessions 3"
    And client "ann" subscribes to "t"
    And client "bob" subscribes to "t"
    And client "cat" subscribes to "t"
    And 2 events are published to "t"
    And client "ann" has received 2 events
    And client "bob" has received 2 events
    And client "cat" has received 2 events
    When client "ann" disconnects
    And client "bob" disconnects
    And client "cat" disconnects
    Then 1 detached session is kept without a consumer, and 2 with one
    When 3 events are published to "t"
    And client "ann" reconnects with its session header only
    And client "bob" reconnects with its session header only
    And client "cat" reconnects with its session header only
    Then client "ann" is told the session was resumed from its last event ID
    And client "bob" is told the session was resumed from its last event ID
    And client "cat" is told the session was resumed from its last event ID
    And client "ann" has received every event published to its topics since it subscribed, exactly once and in order
    And client "bob" has received every event published to its topics since it subscribed, exactly once and in order
    And client "cat" has received every event published to its topics since it subscribed, exactly once and in order

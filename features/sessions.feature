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

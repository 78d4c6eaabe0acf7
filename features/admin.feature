Feature: Operators see and end sessions through the admin API
  The admin listener (--admin-addr, loopback by default) serves the admin API
  behind the admin token: GET /v1/sessions (paged, filtered by topic or
  identity), GET /v1/sessions/{id} (topics, position, lag, where it is
  attached, reconnections), DELETE /v1/sessions/{id} (its connection gets
  event end; the session is gone). Any node answers for every session.
  docs/protocol.md, "Admin API", is the contract.

  Scenario: Sessions are listed, inspected with their lag, and ended
    Given a jetsse server
    And client "a" subscribes to "orders.*"
    And client "b" subscribes to "users.1"
    And 3 events are published to "orders.1"
    And client "a" has received 3 events
    When the operator lists the sessions
    Then the list holds the sessions of clients "a,b" in ID order, and no next page
    When the operator lists the sessions on topic "orders.42"
    Then the list holds the sessions of clients "a" in ID order, and no next page
    When the operator inspects the session of client "a"
    Then it shows topics "orders.*", position "3", last event "3", lag 0, attached to this node, 0 reconnects
    When client "b" disconnects
    And the session of client "b" has its position 0 recorded in JetStream
    And the operator inspects the session of client "b"
    Then it shows topics "users.1", position "0", last event "3", lag 3, detached, 0 reconnects
    When the operator ends the session of client "a"
    Then the response status is 204
    And client "a" receives an end event for its session and its connection ends
    And a reconnect of client "a" with its session cookie gets 204
    And the operator inspecting the session of client "a" gets 404
    And the operator ending the session of client "a" gets 404
    And no consumer is left for the session of client "a"

  Scenario: Pages follow each other until the last
    Given a jetsse server
    And clients "c1,c2,c3,c4,c5" subscribe to "t"
    When the operator pages through the sessions 2 at a time
    Then the pages hold 2, 2 and 1 sessions, every session once, in ID order

  Scenario: Sessions are listed by identity
    Given a jetsse server with JWT auth
    And a token for "alice" that may subscribe to "inbox.>"
    And a token for "bob" that may subscribe to "inbox.>"
    And client "a" subscribes to "inbox.alice" with the token of "alice"
    And client "b" subscribes to "inbox.bob" with the token of "bob"
    When the operator lists the sessions of identity "alice"
    Then the list holds the sessions of clients "a" in ID order, and no next page

  Scenario Outline: The admin API needs the admin token
    Given a jetsse server
    When the admin listener is asked for "/v1/sessions" with Authorization "<authorization>"
    Then the response status is <status>

    Examples:
      | authorization         | status |
      |                       | 401    |
      | Bearer wrong-token-xx | 401    |
      | Basic abc             | 401    |

  Scenario: Bad admin requests get a JSON 400
    Given a jetsse server
    When the operator asks for "/v1/sessions?page_size=5000"
    Then the response status is 400
    And the response is a JSON error
    When the operator asks for "/v1/sessions/not-a-session-id"
    Then the response status is 400
    When the operator asks for "/v1/sessions?topic=a..b"
    Then the response status is 400

  Scenario: A session attached to another node is ended from this one
    Given a NATS cluster of 3 servers
    And jetsse edges "edge-a" and "edge-b" on the cluster with "--replicas 3" sharing session keys "k1"
    And client "a" subscribes to "t" on "edge-b"
    When the operator of "edge-a" ends the session of client "a"
    Then the response status is 204
    And client "a" receives an end event for its session and its connection ends

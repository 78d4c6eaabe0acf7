Feature: Subscribing to live events
  GET /events streams text/event-stream: a retry line, a session event, then
  every matching event with its ID, type and payload, and heartbeats while idle.

  Scenario: The stream starts with retry and a session event, with the right headers
    Given a jetsse server with "--retry 2s"
    When client "alice" subscribes to "orders.*"
    Then the response to client "alice" has header "Content-Type" "text/event-stream"
    And the response to client "alice" has header "Cache-Control" "no-store"
    And the response to client "alice" has header "X-Accel-Buffering" "no"
    And client "alice" got a session token as a cookie and a header
    And the stream of client "alice" starts with a retry between 1000 and 3000 ms, then a session event
    And client "alice" is told the session is new, live only

  Scenario: Only events published after subscribing are delivered, in order
    Given a jetsse server
    And 3 events are published to "orders.1"
    When client "alice" subscribes to "orders.*"
    And 5 events are published to "orders.2"
    Then client "alice" has received every event published to its topics since it subscribed, exactly once and in order
    And client "alice" has received 5 events

  Scenario Outline: Topic filters select by subject
    Given a jetsse server
    And client "alice" subscribes to "<topics>"
    When events are published to "orders.1, orders.1.items, users.9, users.9.profile, news, orders"
    Then client "alice" has received every event published to its topics since it subscribed, exactly once and in order
    And client "alice" received events on exactly "<matched>"

    Examples:
      | topics           | matched                              |
      | orders.*         | orders.1                             |
      | orders.>         | orders.1, orders.1.items             |
      | users.>, news    | users.9, users.9.profile, news       |
      | *.9              | users.9                              |
      | orders.*, *.1    | orders.1                             |
      | >                | orders.1, orders.1.items, users.9, users.9.profile, news, orders |

  Scenario: Payloads with line breaks are framed safely
    Given a jetsse server
    And client "alice" subscribes to "t"
    When an event is published over NATS to "t" with type "x" and data "one\ntwo\r\nthree\rfour\n\nid: 99\nevent: evil\ndata: injected"
    And an event is published over NATS to "t" with type "has: colon" and data "x"
    And an event is published over NATS to "t" with type "" and data ""
    Then client "alice" has received 3 events
    And event 1 of client "alice" has data "one\ntwo\nthree\nfour\n\nid: 99\nevent: evil\ndata: injected" and type "x"
    And event 2 of client "alice" has data "x" and type "has: colon"
    And event 3 of client "alice" has data "" and type ""
    And every event of client "alice" has its stream sequence as id

  Scenario: Idle connections get heartbeat comments
    Given a jetsse server with "--heartbeat 100ms"
    When client "alice" subscribes to "quiet"
    Then client "alice" receives at least 3 heartbeat comments

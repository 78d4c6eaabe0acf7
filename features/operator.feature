Feature: Operating jetsse with the nats CLI
  The embedded nats-server is a normal NATS server: the nats CLI publishes to
  it and shows the stream and the sessions.

  Background:
    Given a jetsse server with "--max-msgs 500"

  Scenario: nats pub reaches subscribers
    Given client "alice" subscribes to "orders.*"
    When the operator runs "nats pub events.orders.1 hello -H Sse-Event:order.created"
    Then client "alice" has received 1 event
    And event 1 of client "alice" has data "hello" and type "order.created"

  Scenario: nats shows the stream's limits, the sessions, and detached sessions as consumers
    Given client "alice" subscribes to "orders.*"
    And client "bob" subscribes to "orders.*"
    When the operator runs "nats stream info EVENTS --json"
    Then the output shows the stream on "events.>" keeping at most 500 messages
    When client "bob" disconnects
    And the operator runs "nats kv ls jetsse_sessions"
    Then the output lists the session of client "alice"
    And the output lists the session of client "bob"
    When the operator waits until "nats consumer ls EVENTS --names" lists the session of client "bob"
    Then the output does not list the session of client "alice"
    When the operator runs "nats consumer info EVENTS <consumer of bob> --json"
    Then the output shows metadata "jetsse.topics" with "orders.*"

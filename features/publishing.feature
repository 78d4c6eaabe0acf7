Feature: Publishing events
  Backends publish to NATS subjects under the stream's prefix, or POST /publish
  with the publish token. The event ID is the JetStream stream sequence.

  Background:
    Given a jetsse server

  Scenario: An event published over NATS reaches a subscriber with its ID and type
    Given client "alice" subscribes to "orders.*"
    When an event is published over NATS to "orders.42" with type "order.created" and data "hello"
    Then client "alice" receives that event with its stream sequence as id, type "order.created" and data "hello"

  Scenario: POST /publish stores the event and answers with its ID
    Given client "alice" subscribes to "orders.*"
    When an event is published over HTTP to "orders.7" with type "order.paid" and data "{\"total\": 12}"
    Then the response status is 200
    And the response JSON has the event's id
    And client "alice" receives that event with its stream sequence as id, type "order.paid" and data "{\"total\": 12}"

  Scenario: A publish without the right token is refused
    When I POST /publish with token "" and body "{\"topic\":\"orders.1\",\"data\":\"x\"}"
    Then the response status is 401
    And the response is a JSON error
    When I POST /publish with token "wrong" and body "{\"topic\":\"orders.1\",\"data\":\"x\"}"
    Then the response status is 401
    And the stream holds 0 events

  Scenario Outline: A publish with a bad topic or body is refused with a JSON error
    When I POST /publish with the token and body "<body>"
    Then the response status is 400
    And the response is a JSON error
    And the stream holds 0 events

    Examples:
      | body                                               |
      | {\"topic\":\"orders.*\",\"data\":\"x\"}            |
      | {\"topic\":\"orders.>\",\"data\":\"x\"}            |
      | {\"topic\":\"orders..1\",\"data\":\"x\"}           |
      | {\"topic\":\"orders 1\",\"data\":\"x\"}            |
      | {\"topic\":\"\",\"data\":\"x\"}                    |
      | {\"topic\":\"a\",\"event\":\"x\\ny\",\"data\":\"x\"} |
      | {\"topic\":\"a\",\"data\":{\"nested\":1}}          |
      | {\"topic\":\"a\",\"data\":\"x\"} trailing          |
      | not json                                           |
      | {\"topic\":\"a\",\"typo\":\"x\",\"data\":\"x\"}    |

  Scenario: A body over the limit is refused with 413
    When I POST /publish with the token and a body of 2000000 bytes
    Then the response status is 413
    And the response is a JSON error
    And the stream holds 0 events

  Scenario: A retried publish with the same message ID is stored once
    When I POST /publish with the token and body "{\"topic\":\"orders.1\",\"data\":\"x\",\"msg_id\":\"m-1\"}"
    And I POST /publish with the token and body "{\"topic\":\"orders.1\",\"data\":\"x\",\"msg_id\":\"m-1\"}"
    Then the response status is 200
    And the stream holds 1 event

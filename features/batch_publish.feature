Feature: Publishing a batch of events over HTTP
  Backends that publish in bulk POST {"events": [...]} to /publish, each event
  of the single form. The batch is checked whole before anything is published;
  once published, its events are stored in order, each under its own ID, and
  the answer lists the IDs in the batch's order. If some are not stored the
  answer says exactly which were. docs/protocol.md, "Publishing".

  Scenario: A batch is stored in order and answered with each event's ID
    Given a jetsse server
    And client "alice" subscribes to "orders.*"
    When I POST /publish with the token and a batch of
      | topic    | event      | data  |
      | orders.1 | order.paid | one   |
      | orders.2 |            | two   |
      | orders.1 | order.paid | three |
    Then the response status is 200
    And the response lists the batch's 3 IDs, one after the other
    And the stream holds exactly the batch's events, in its order
    And client "alice" has received every event published to its topics since it subscribed, exactly once and in order

  Scenario: A repeated message ID in a batch is stored once, and both events get its ID
    Given a jetsse server
    When I POST /publish with the token and a batch of
      | topic    | data | msg_id |
      | orders.1 | a    | m-1    |
      | orders.1 | b    |        |
      | orders.1 | a    | m-1    |
    Then the response status is 200
    And events 1 and 3 of the batch have the same ID
    And the stream holds 2 events

  Scenario Outline: A batch with a bad event is refused whole, naming the event
    Given a jetsse server
    When I POST /publish with the token and a batch of
      | topic    | event   | data |
      | orders.1 |         | a    |
      | <topic>  | <event> | b    |
    Then the response status is 400
    And the response is a JSON error saying "<saying>"
    And the stream holds 0 events

    Examples:
      | topic    | event    | saying            |
      | orders.* |          | events[1].topic   |
      | orders 2 |          | events[1].topic   |
      | orders.2 | takeover | events[1].event   |
      | orders.2 | jetsse.x | events[1].event   |

  Scenario Outline: A batch that is not one is refused
    Given a jetsse server
    When I POST /publish with the token and body "<body>"
    Then the response status is 400
    And the response is a JSON error
    And the stream holds 0 events

    Examples:
      | body                                                          |
      | {\"events\":[]}                                               |
      | {\"events\":[{\"topic\":\"a\",\"data\":1}]}                    |
      | {\"events\":[{\"topic\":\"a\"}],\"topic\":\"b\"}               |
      | {\"events\":{\"topic\":\"a\"}}                                 |

  Scenario: A batch over the limits is refused with 413 before anything is stored
    Given a jetsse server with "--max-batch 3 --max-body 64KiB"
    When I POST /publish with the token and a batch of 4 events to "orders.1"
    Then the response status is 413
    And the response is a JSON error saying "at most 3"
    When I POST /publish with the token and a batch of 3 events of 30000 bytes to "orders.1"
    Then the response status is 413
    And the response is a JSON error
    And the stream holds 0 events

  Scenario: Every event's topic must be granted, or nothing is published
    Given a jetsse server with JWT auth
    And a token for "svc" that may publish to "orders.*"
    When I POST /publish a batch to "orders.1, users.1, orders.2" with the token of "svc"
    Then the response status is 403
    And the response is a JSON error saying "users.1"
    And the stream holds 0 events
    When I POST /publish a batch to "orders.1, orders.2" with the token of "svc"
    Then the response status is 200
    And the response lists the batch's 2 IDs, one after the other
    When I POST /publish a batch to "orders.1" with no token
    Then the response status is 401

  Scenario: An event refused on its way to the stream leaves the others stored, and the answer says which
    Given a jetsse server with "--nats-max-payload 16KiB"
    When I POST /publish with the token and a batch of
      | topic    | data          |
      | orders.1 | first         |
      | orders.1 | 20000 bytes   |
      | orders.1 | third         |
    Then the response status is 413
    And the response lists IDs for events 1 and 3 only, and says event 2 failed
    And the stream holds exactly the batch's stored events, in its order

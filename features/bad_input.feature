Feature: Bad input harms nobody
  Malformed requests get a clear 4xx JSON error, or a clean disconnect; never a
  crash, a hang, a leak, or a lost event for anyone else.

  Background:
    Given a jetsse server with "--write-timeout 1s --queue-size 64 --heartbeat 200ms --retry 100ms"

  Scenario Outline: A malformed subscription is refused with 400 and no stream
    When a client requests "/events?<query>"
    Then the response status is 400
    And the response is a JSON error

    Examples:
      | query                                  |
      |                                        |
      | topic=                                 |
      | topic=orders%20x                       |
      | topic=orders..1                        |
      | topic=.orders                          |
      | topic=orders.%3E.x                     |
      | topic=orders*                          |
      | topic=a%00b                            |
      | topic=a%E2%80%AEb                      |
      | topic=a&lastEventId=abc                |
      | topic=a&lastEventId=-1                 |
      | topic=a&lastEventId=18446744073709551616 |

  Scenario: Too many and too long topics are refused
    When a client subscribes to 33 topics
    Then the response status is 400
    And the response is a JSON error
    When a client subscribes to a topic of 257 bytes
    Then the response status is 400
    When a client subscribes to 32 topics
    Then the response status is 200

  Scenario Outline: A malformed Last-Event-ID header is refused
    When a client subscribes to "t" with Last-Event-ID header "<id>"
    Then the response status is 400
    And the response is a JSON error

    Examples:
      | id          |
      | abc         |
      | 12abc       |
      | 1.5         |
      | 0x1F        |
      | 99999999999999999999999 |

  Scenario: A client that never reads is disconnected and nobody else suffers
    Given client "good" subscribes to "t"
    And a client that never reads subscribes to "t"
    When 3000 events of 2000 bytes are published to "t" at 1000 per second
    Then the client that never reads is disconnected by the server
    And client "good" has received every event published to its topics since it subscribed, exactly once and in order
    And client "good" was never disconnected
    And the slow client disconnects metric is at least 1

  Scenario: A client that falls behind a burst is disconnected and resumes without loss
    Given client "reader" subscribes to "t" and reconnects like EventSource
    When 3000 events of 2000 bytes are published to "t"
    Then client "reader" has received every event published to its topics since it subscribed, exactly once and in order

  Scenario: Clients that never read do not grow the edge's memory
    Given a NATS server
    And a jetsse process on the cluster with "--write-timeout 2s --queue-bytes 65536 --cache-bytes 4194304"
    And 20 clients that never read subscribe to "t"
    When 5000 events of 20000 bytes are published to "t"
    Then the jetsse process's resident memory grew by less than 64 MiB
    And within 15 seconds the server has 0 connections

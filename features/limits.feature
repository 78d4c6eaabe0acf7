Feature: Abuse is bounded
  Each limit is a flag with a safe default and counts its refusals in
  jetsse_limit_hits_total{limit}. A client over a limit gets 429 with
  Retry-After and a JSON error; an EventSource (Accept: text/event-stream)
  gets an empty 200 stream that says when to come back, since it gives up for
  good on any other status. Nobody else loses an event. docs/protocol.md,
  "Limits", is the contract.

  Scenario: With the defaults, a session flood from one address is bounded and harms nobody
    Given a jetsse server
    And client "good" subscribes to "t" from 127.0.0.3
    And client "regular" subscribes to "t" from 127.0.0.9
    And client "regular" disconnects
    When 300 new sessions are asked for from 127.0.0.1 at once while 50 events are published to "t"
    Then at least 100 and at most 130 of them got a session
    And the others got 429 with Retry-After and a JSON error
    And the metrics include
      | metric                                                       | value |
      | jetsse_limit_hits_total{limit="new_sessions_per_client"}     | >= 1  |
    And client "good" has received every event published to its topics since it subscribed, exactly once and in order
    # From the flooded address: resuming a session is not a new session.
    When client "regular" reconnects with its session cookie only
    Then client "regular" is told the session was resumed
    When a client at 127.0.0.4 subscribes to "t"
    Then the response status is 200

  Scenario: An EventSource over a limit is told when to come back
    Given a jetsse server with "--new-sessions-per-ip-per-second 1"
    When 5 new sessions are asked for from 127.0.0.1 at once
    And an EventSource at 127.0.0.1 subscribes to "t"
    Then the response status is 200
    And the stream says to retry in at least 5 seconds and holds no session

  Scenario: The node's new-session rate bounds all addresses together
    Given a jetsse server with "--new-sessions-per-second 2"
    When 1 new session is asked for from each of 30 addresses at once
    Then at least 10 and at most 14 of them got a session
    And the others got 429 with Retry-After and a JSON error
    And the metrics include
      | metric                                        | value |
      | jetsse_limit_hits_total{limit="new_sessions"} | >= 1  |

  Scenario: With the defaults, one address holds at most 1,000 streams
    Given a jetsse server
    And 1001 sessions exist
    When 1001 of those sessions connect from 127.0.0.5
    Then 1000 streams are open and 1 got 429 with Retry-After and a JSON error
    And the metrics include
      | metric                                                  | value |
      | jetsse_limit_hits_total{limit="connections_per_client"} | 1     |
    When a client at 127.0.0.6 subscribes to "t"
    Then the response status is 200

  Scenario: Streams per address and per node are bounded by their flags
    Given a jetsse server with "--max-connections-per-ip 2 --max-connections 3"
    When 3 clients at 127.0.0.7 subscribe to "t"
    Then 2 streams are open and 1 got 429 with Retry-After and a JSON error
    When 2 clients at 127.0.0.8 subscribe to "t"
    Then 3 streams are open and 2 got 429 with Retry-After and a JSON error
    And the metrics include
      | metric                                                  | value |
      | jetsse_limit_hits_total{limit="connections_per_client"} | 1     |
      | jetsse_limit_hits_total{limit="connections"}            | 1     |

  Scenario Outline: Forwarded addresses count only from a trusted proxy
    Given a jetsse server with "--max-connections-per-ip 1 <flags>"
    When a client forwarded for 198.51.100.1 subscribes to "t"
    Then the response status is 200
    When a client forwarded for 198.51.100.1 subscribes to "t"
    Then the response status is 429
    When a client forwarded for 198.51.100.2 subscribes to "t"
    Then the response status is <other>

    Examples:
      | flags                        | other |
      | --trusted-proxy 127.0.0.1/32 | 200   |
      |                              | 429   |

  Scenario: Oversized headers, topics and bodies are refused and counted
    Given a jetsse server
    When a client sends a request with 70000 bytes of headers
    Then the response status is 431
    And the response is a JSON error
    When a client subscribes to 33 topics
    Then the response status is 400
    When a client subscribes to a topic of 257 bytes
    Then the response status is 400
    When I POST /publish with the token and a body of 1048577 bytes
    Then the response status is 413
    And the metrics include
      | metric                                         | value |
      | jetsse_limit_hits_total{limit="header_bytes"}  | 1     |
      | jetsse_limit_hits_total{limit="topics"}        | 1     |
      | jetsse_limit_hits_total{limit="topic_bytes"}   | 1     |
      | jetsse_limit_hits_total{limit="body_bytes"}    | 1     |

  Scenario: The session bucket is bounded
    Given a jetsse server
    Then the session bucket keeps at most 1073741824 bytes, values of at most the largest session record

Feature: Operating jetsse
  Health, readiness and Prometheus metrics; draining on shutdown.

  Scenario: Health and readiness
    Given a jetsse server
    When a client requests "/healthz"
    Then the response status is 200
    When a client requests "/readyz"
    Then the response status is 200

  Scenario: Metrics show connections, sessions, events and the stream against its limits
    Given a jetsse server with "--max-msgs 1000 --max-bytes 1000000 --max-age 1h"
    And client "alice" subscribes to "t"
    And 5 events are published to "t"
    And client "alice" has received 5 events
    And client "alice" disconnects
    And client "alice" reconnects with its Last-Event-ID
    When metrics are scraped until "jetsse_stream_last_seq" is 5
    Then the metrics include
      | metric                                  | value |
      | jetsse_connections                      | 1     |
      | jetsse_sessions_created_total           | 1     |
      | jetsse_sessions_resumed_total           | 1     |
      | jetsse_events_delivered_total           | 5     |
      | jetsse_stream_messages                  | 5     |
      | jetsse_stream_first_seq                 | 1     |
      | jetsse_stream_max_msgs                  | 1000  |
      | jetsse_stream_max_bytes                 | 1e+06 |
      | jetsse_stream_max_age_seconds           | 3600  |
    And every metric family from jetsse is named "jetsse_*"

  Scenario: Draining tells clients when to come back and records their positions
    Given a jetsse server
    And client "alice" subscribes to "t"
    And 2 events are published to "t"
    And client "alice" has received 2 events
    When the server is asked to stop
    Then client "alice" gets a new retry value and its connection ends
    And the server stops
    And the session of client "alice" has its position 2 recorded in JetStream

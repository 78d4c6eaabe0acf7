Feature: One connection per session
  When a connection attaches to a session that already has one, the older one
  gets event: takeover and ends; the newer continues from the right position.
  The session loses no event in the switch.

  Scenario: A second connection takes the session over without losing events
    Given a jetsse server
    And client "tab1" subscribes to "orders.*"
    And 3 events are published to "orders.1"
    And client "tab1" has received 3 events
    When client "tab2" subscribes to "orders.*" with the session of client "tab1"
    Then client "tab1" receives a takeover event for its session and its connection ends
    When 4 events are published to "orders.2"
    # From the session alone (no Last-Event-ID) a resume is at least once:
    # the position counts what tab1's TCP stack acknowledged, and a delayed
    # ACK may leave event 3 to come again. Nothing is lost.
    Then client "tab2" has received a gapless run of events ending at id 7 that starts at or before id 4
    And client "tab2" is told the session was resumed

  Scenario: A takeover storm leaves the server healthy
    Given a jetsse server
    And client "tab1" subscribes to "t"
    When clients "tab1" and "tab2" alternate on the session 40 times while events are published to "t"
    Then every replaced connection received a takeover event
    And the last connection receives every event published after it attached
    And the union of what both clients received has every event published to "t" during the storm
    And within 10 seconds the server has exactly 1 session, no session consumer and 1 connection
    And within 10 seconds the server's goroutines return to their level before the storm

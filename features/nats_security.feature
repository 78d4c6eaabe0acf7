Feature: NATS access to the embedded server
  The embedded nats-server requires credentials whenever its client port is
  reachable from other hosts, and with --nats-require-auth on loopback too
  (docs/protocol.md, "NATS access"). Unless --nats-password gives one, the
  password is generated into the data dir (nats.password, mode 0600) on
  first start and logged that once, as a ready nats CLI context. The edge
  itself connects in-process with the same credentials.

  Scenario: On every address, NATS clients without credentials are refused; with the generated ones they operate
    Given a jetsse server with "--nats-addr 0.0.0.0:0 --log-level info"
    And client "alice" subscribes to "orders.*"
    And 3 events are published to "orders.1"
    And an event is published over HTTP to "orders.2" with type "order.created" and data "over HTTP"
    Then client "alice" has received 4 events
    When the operator tries "nats stream purge EVENTS -f" without credentials
    Then the nats CLI is refused for lack of authorization
    When the operator tries "nats stream ls" without credentials
    Then the nats CLI is refused for lack of authorization
    When the operator tries "nats kv ls jetsse_sessions" as user "jetsse" with password "not-the-password-at-all"
    Then the nats CLI is refused for lack of authorization
    And the stream holds 4 events
    And the NATS password file has mode 0600
    And the log shows the generated NATS password once, as a nats CLI context that works
    When the operator runs "nats stream ls --names" with the generated credentials
    Then the output lists the stream "EVENTS"
    When the operator runs "nats pub events.orders.3 hello" with the generated credentials
    Then client "alice" has received 5 events
    And client "alice" has received every event published to its topics since it subscribed, exactly once and in order

  Scenario: The generated password is reused after a restart and not logged again
    Given a jetsse server with "--nats-addr 0.0.0.0:0 --log-level info"
    And 2 events are published to "t"
    And the log shows the generated NATS password once, as a nats CLI context that works
    When the server restarts with "--nats-addr 0.0.0.0:0 --log-level info"
    Then the NATS password file still holds the password of the first start
    And the log names the NATS password file but not the password
    When the operator tries "nats stream ls" without credentials
    Then the nats CLI is refused for lack of authorization
    When the operator runs "nats stream ls --names" with the generated credentials
    Then the output lists the stream "EVENTS"
    And the stream holds 2 events
    Given client "alice" subscribes to "t"
    When an event is published over HTTP to "t" with type "" and data "after the restart"
    Then client "alice" has received 1 event

  Scenario: On the loopback default, NATS clients need no credentials
    Given a jetsse server
    When the operator tries "nats stream ls --names" without credentials
    Then the output lists the stream "EVENTS"
    And the data dir holds no NATS password file

  Scenario: --nats-require-auth requires credentials on loopback too
    Given a jetsse server with "--nats-require-auth"
    When the operator tries "nats stream ls" without credentials
    Then the nats CLI is refused for lack of authorization
    When the operator runs "nats stream ls --names" with the generated credentials
    Then the output lists the stream "EVENTS"
    And the NATS password file has mode 0600

  Scenario: A password file that group or others may read is refused at start
    Given a jetsse server with "--nats-addr 0.0.0.0:0"
    When the server is stopped and its NATS password file is made readable by group and others
    Then the server does not start again with "--nats-addr 0.0.0.0:0", saying "nats.password has mode 0644; run: chmod 600"

  Scenario: Explicit credentials replace the generated ones, and are never logged
    Given a jetsse server with "--nats-addr 0.0.0.0:0 --nats-user ops --nats-password correct-horse-battery-staple --log-level debug"
    When the operator runs "nats stream ls --names" as user "ops" with password "correct-horse-battery-staple"
    Then the output lists the stream "EVENTS"
    When the operator tries "nats stream ls" as user "jetsse" with password "correct-horse-battery-staple"
    Then the nats CLI is refused for lack of authorization
    And the data dir holds no NATS password file
    And the log says the server requires credentials, without "correct-horse-battery-staple"
    Given client "alice" subscribes to "t"
    When an event is published over HTTP to "t" with type "" and data "hello"
    Then client "alice" has received 1 event

  Scenario: A short password is refused
    Then a jetsse server with "--nats-password tooshort" does not start, saying "--nats-password: auth: weak key: 8 characters; the embedded NATS server needs at least 16"

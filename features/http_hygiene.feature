Feature: HTTP hygiene on the open internet
  The public listener serves the API and the browser assets, nothing else:
  metrics and profiles are on the admin listener (loopback by default;
  profiles need the admin token). Every refusal is a JSON error, nothing says
  more than it must, and secrets are refused when weak or readable by others,
  and never logged whole. docs/protocol.md §3 "Refusals" and §5.

  Scenario: Metrics are on the admin listener, not the public one
    Given a jetsse server
    When a client requests "/metrics"
    Then the response status is 404
    And the response is a JSON error
    When the admin listener is asked for "/metrics"
    Then the response status is 200
    And the response holds "jetsse_connections"

  Scenario: Profiles need the admin token, with the Bearer scheme in any case
    Given a jetsse server
    When a client requests "/debug/pprof/"
    Then the response status is 404
    And the response is a JSON error
    When the admin listener is asked for "/debug/pprof/cmdline"
    Then the response status is 401
    And the response is a JSON error
    And the response header "WWW-Authenticate" is "Bearer realm="jetsse-admin""
    When the admin listener is asked for "/debug/pprof/cmdline" with Authorization "Bearer wrong-token-0123456789"
    Then the response status is 401
    When the admin listener is asked for "/debug/pprof/cmdline" with Authorization "Bearer test-publish-token"
    Then the response status is 401
    When the admin listener is asked for "/debug/pprof/cmdline" with the admin token as "bearer"
    Then the response status is 200
    When the admin listener is asked for "/debug/pprof/goroutine?debug=1" with the admin token as "Bearer"
    Then the response status is 200
    And the response holds "goroutine profile"

  Scenario: /readyz says "not ready" and nothing of why; the admin listener says why
    Given a NATS server that can be restarted
    And a jetsse server on that NATS server
    When the NATS server stops
    Then "/readyz" answers 503 within 15 seconds
    And the public "/readyz" body is exactly {"error":"not ready"} with a Retry-After
    And the admin "/readyz" tells the admin token's holder more than "not ready"
    And the server's log has a warning containing "not ready"
    When the NATS server starts again
    Then "/readyz" answers 200 within 30 seconds

  Scenario: HEAD /events opens no session
    Given a jetsse server
    When a client sends "HEAD /events?topic=t"
    Then the response status is 405
    And the response header "Allow" is "GET"
    And no Set-Cookie or Jetsse-Session header was sent
    And the metric "jetsse_sessions_created_total" is 0
    And the session bucket holds 0 session records
    When client "alice" subscribes to "t"
    Then metrics are scraped until "jetsse_sessions_created_total" is 1

  Scenario: No directory is listed
    Given a jetsse server
    When a client sends "GET /assets/"
    Then the response status is 404
    And the response is a JSON error
    And the response does not hold "demo.js"
    When a client sends "GET /assets/demo.js"
    Then the response status is 200

  Scenario Outline: A path that tries to leave the assets is a JSON 404
    Given a jetsse server
    When a client sends "GET <target>"
    Then the response status is 404
    And the response is a JSON error
    And the response does not hold "jetsse"

    Examples:
      | target                                 |
      | /assets/%2e%2e/jetsse.js               |
      | /assets/%2E%2E/                        |
      | /assets/%2e%2e/%2e%2e/go.mod           |
      | /assets/..%2f..%2fetc%2fpasswd         |
      | /assets/%2e%2e%2f%2e%2e%2fetc%2fpasswd |
      | /assets/..%5cjetsse.js                 |
      | /assets/%2e/demo.js                    |
      | /assets/demo.js%2f                     |

  Scenario Outline: A path with literal dots is cleaned by a redirect, never served as it is
    Given a jetsse server
    When a client sends "GET <target>"
    Then the response is a redirect to "<clean>"

    Examples:
      | target                      | clean       |
      | /assets/../jetsse.js        | /jetsse.js  |
      | /assets/../../../etc/passwd | /etc/passwd |
      | /assets/./demo.js           | /assets/demo.js |

  Scenario Outline: A wrong method is a JSON 405 with Allow
    Given a jetsse server
    When a client sends "<method> <path>"
    Then the response status is 405
    And the response header "Allow" is "<allow>"
    And the response is a JSON error

    Examples:
      | method | path            | allow |
      | POST   | /events?topic=t | GET   |
      | DELETE | /events?topic=t | GET   |
      | GET    | /publish        | POST  |
      | PUT    | /healthz        | GET   |
      | POST   | /assets/demo.js | GET   |

  Scenario Outline: A short token is refused at start
    Then a jetsse server with "<flags>" does not start, saying "<says>"

    Examples:
      | flags                      | says                   |
      | --publish-token x          | --publish-token        |
      | --publish-token 0123456789 | at least 16            |
      | --admin-token short        | --admin-token          |

  Scenario Outline: A secret file that others may read refuses the start, until it is made private
    Given a jetsse server with "--publish-token="
    When the server is stopped and its file "<file>" is made mode 0644
    Then the server does not start again with "--publish-token=", saying "chmod 600"
    When the server's file "<file>" is made mode 0600
    Then the server restarts with "--publish-token="

    Examples:
      | file          |
      | session.key   |
      | publish.token |
      | admin.token   |

  Scenario: A session key file that others may read, or a placeholder key, is refused
    Given a session key file "readable.key" with a good key and mode 0644
    And a session key file "zeros.key" of 32 bytes 0x00 and mode 0600
    And a session key file "ones.key" of 48 bytes 0x01 and mode 0600
    Then a jetsse server with "--session-key-file readable.key" does not start, saying "chmod 600"
    And a jetsse server with "--session-key-file zeros.key" does not start, saying "one byte repeated"
    And a jetsse server with "--session-key-file ones.key" does not start, saying "one byte repeated"

  Scenario: Generated tokens are kept in private files and logged only redacted
    Given a jetsse server with "--publish-token= --log-level info"
    Then the data dir holds "publish.token" of mode 0600
    And the data dir holds "admin.token" of mode 0600
    And the server's log names "publish.token" but not the token in it
    And the server's log names "admin.token" but not the token in it

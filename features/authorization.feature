Feature: Subscribers and publishers are authorized
  With --auth jwt every subscriber presents a JWT (Authorization: Bearer, the
  jetsse_auth cookie, or the access_token query parameter). Its grants name the
  topics it may read, on every path (this node's cache, JetStream, live); a
  session belongs to the identity that created it; a stream ends when its token
  expires, after telling the client (event: reauth). Publishers present the
  static publish token or a JWT with publish grants. docs/protocol.md,
  "Authorization", is the contract.

  Scenario Outline: The token is read from the header, the cookie or the query
    Given a jetsse server with JWT auth
    And a token for "alice" that may subscribe to "orders.>"
    When client "a" subscribes to "orders.1" with the token of "alice" in the <where>
    And 3 events are published to "orders.1"
    Then client "a" has received every event published to its topics since it subscribed, exactly once and in order

    Examples:
      | where                         |
      | Authorization header          |
      | lower-case bearer header      |
      | jetsse_auth cookie            |
      | access_token query parameter  |

  Scenario Outline: The key comes from a secret, a public key or a JWKS, and the algorithm from the key
    Given a jetsse server with JWT auth by <key>
    And a token for "alice" that may subscribe to "orders.>"
    When client "a" subscribes to "orders.1" with the token of "alice"
    And 2 events are published to "orders.1"
    Then client "a" has received every event published to its topics since it subscribed, exactly once and in order
    When a client subscribes to "orders.1" with a token signed with another key
    Then the response status is 401

    Examples:
      | key                 |
      | an HS256 secret     |
      | an ES256 public key |
      | an EdDSA public key |
      | an RS256 JWKS       |

  Scenario Outline: A subscriber without a valid token gets 401 and no session
    Given a jetsse server with JWT auth
    When a client subscribes to "orders.1" with <token>
    Then the response status is 401
    And the response is a JSON error
    And the response says "WWW-Authenticate" is "Bearer realm=\"jetsse\""
    And no session was created

    Examples:
      | token                                        |
      | no token                                     |
      | a malformed token                            |
      | a token signed with another key              |
      | a token with alg none                        |
      | an expired token                             |
      | a token that is not valid yet                |
      | a token without sub                          |
      | a token of 9000 bytes                        |

  Scenario Outline: Every requested topic must be covered by a grant
    Given a jetsse server with JWT auth
    And a token for "alice" that may subscribe to "orders.*"
    When a client subscribes to "<topics>" with the token of "alice"
    Then the response status is <status>

    Examples:
      | topics            | status |
      | orders.1          | 200    |
      | orders.*          | 200    |
      | orders.1,orders.2 | 200    |
      | orders.>          | 403    |
      | orders.1.x        | 403    |
      | users.1           | 403    |
      | orders.1,users.1  | 403    |
      | >                 | 403    |

  Scenario: A refusal for a topic outside the grants is a JSON error naming it
    Given a jetsse server with JWT auth
    And a token for "alice" that may subscribe to "orders.*"
    When a client subscribes to "orders.>" with the token of "alice"
    Then the response status is 403
    And the response is a JSON error
    And the response body contains "orders.>"
    And no session was created

  Scenario Outline: Replay obeys the grants, from the cache and from JetStream
    Given a jetsse server with JWT auth and "<flags>"
    And a token for "alice" that may subscribe to "orders.>"
    And 5 events are published to "orders.1"
    And 5 events are published to "secrets.1"
    And 5 events are published to "orders.2"
    When a client subscribes to ">" with the token of "alice" and Last-Event-ID "0"
    Then the response status is 403
    When client "a" subscribes to "orders.>" with the token of "alice" and Last-Event-ID "0"
    And 2 events are published to "secrets.1"
    And 2 events are published to "orders.1"
    Then client "a" has received the events with ids "1,2,3,4,5,11,12,13,14,15,18,19"

    Examples:
      | flags              |
      |                    |
      | --cache-events 1   |

  Scenario: A stolen session token does not hand the session to another identity
    Given a jetsse server with JWT auth
    And a token for "alice" that may subscribe to "inbox.alice"
    And a token for "mallory" that may subscribe to "inbox.alice,inbox.mallory"
    And client "alice" subscribes to "inbox.alice" with the token of "alice"
    And 3 events are published to "inbox.alice"
    And client "alice" has received 3 events
    When client "mallory" presents the session of client "alice" with the token of "mallory" for "inbox.alice"
    Then client "mallory" is told the session is new, live only
    And client "mallory" has a different session than client "alice"
    And client "alice" was never disconnected
    And client "alice" got no takeover event
    When 2 events are published to "inbox.alice"
    Then client "alice" has received every event published to its topics since it subscribed, exactly once and in order
    When client "alice" reconnects with its session cookie and the token of "alice"
    Then client "alice" is told the session was resumed

  Scenario: An anonymous client cannot resume an identity's session
    Given a jetsse server with JWT auth and "--anonymous-subscribe news.>"
    And a token for "alice" that may subscribe to "news.>"
    And client "alice" subscribes to "news.1" with the token of "alice"
    And client "alice" disconnects
    When client "anon" presents the session of client "alice" without a token for "news.1"
    Then client "anon" is told the session is new, live only
    And client "anon" has a different session than client "alice"
    When a client subscribes to "orders.1" without a token
    Then the response status is 403

  Scenario: A stream ends when its token expires, and resumes with a fresh one
    Given a jetsse server with JWT auth
    And a token for "alice" that may subscribe to "orders.>" and expires in 2 seconds
    And client "a" subscribes to "orders.1" with the token of "alice" in the Authorization header
    And 3 events are published to "orders.1"
    When client "a" receives a reauth event saying "token expired" and its connection ends
    And 4 events are published to "orders.1"
    And a token for "alice" that may subscribe to "orders.>"
    And client "a" reconnects with its Last-Event-ID and the token of "alice"
    Then client "a" is told the session was resumed from its last event ID
    And client "a" has received every event published to its topics since it subscribed, exactly once and in order
    And the metrics include
      | metric               | value |
      | jetsse_reauths_total | 1     |

  Scenario: An EventSource coming back with an expired token is told to reauthenticate, not refused for good
    Given a jetsse server with JWT auth
    And a token for "alice" that may subscribe to "orders.>" and expired a minute ago
    When an EventSource subscribes to "orders.1" with the token of "alice" in the access_token query parameter
    Then the response status is 200
    And the stream says reauth and when to retry, and holds no session

  Scenario Outline: Publishing needs the publish token or a JWT whose grants cover the topic
    Given a jetsse server with JWT auth
    And a token for "svc" that may publish to "orders.*"
    When I POST /publish to "<topic>" with <credentials>
    Then the response status is <status>
    And the response is <what>

    Examples:
      | topic    | credentials                         | status | what              |
      | orders.1 | the publish token                   | 200    | an event ID       |
      | orders.1 | the publish token as "bearer"       | 200    | an event ID       |
      | orders.1 | the publish token as "BEARER"       | 200    | an event ID       |
      | orders.1 | the token of "svc"                  | 200    | an event ID       |
      | users.1  | the token of "svc"                  | 403    | a JSON error      |
      | orders.1 | a subscriber's token                | 403    | a JSON error      |
      | orders.1 | a wrong token                       | 401    | a JSON error      |
      | orders.1 | no token                            | 401    | a JSON error      |
      | orders.1 | the publish token in a Basic header | 401    | a JSON error      |

  Scenario Outline: A configuration that would expose more than meant does not start
    Given a JWT secret file "<file>" of <bytes> bytes with mode <mode>
    Then jetsse does not start with "<flags>", saying "<saying>"

    Examples:
      | file      | bytes | mode | flags                                              | saying                   |
      | ok.key    | 48    | 0600 | --http-addr 0.0.0.0:0                              | --allow-anonymous        |
      | ok.key    | 48    | 0600 | --http-addr :0                                     | --allow-anonymous        |
      | ok.key    | 48    | 0600 | --auth jwt                                         | exactly one key source   |
      | short.key | 16    | 0600 | --auth jwt --jwt-key-file short.key                | at least 32 are needed   |
      | open.key  | 48    | 0644 | --auth jwt --jwt-key-file open.key                 | chmod 600                |
      | ok.key    | 48    | 0600 | --jwt-key-file ok.key                              | need --auth jwt          |
      | ok.key    | 48    | 0600 | --auth jwt --jwt-key-file ok.key --allow-anonymous | --anonymous-subscribe    |
      | ok.key    | 48    | 0600 | --auth jwt --jwt-key-file ok.key --trusted-proxy x | --trusted-proxy          |
      | ok.key    | 48    | 0600 | --auth basic                                       | unknown mode             |

  Scenario: Anonymous access beyond loopback starts when meant
    Given a jetsse server with "--http-addr 0.0.0.0:0 --allow-anonymous"
    When client "a" subscribes to "anything.at.all"
    And 2 events are published to "anything.at.all"
    Then client "a" has received every event published to its topics since it subscribed, exactly once and in order

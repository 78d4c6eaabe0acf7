// Package bench is the load tool behind cmd/jetsse-bench: raw-TCP SSE
// subscribers with their own HTTP/1.1 and text/event-stream parsers, event
// publishers (JetStream over NATS, or an HTTP publish endpoint), /proc
// probes for a server's CPU time and memory (Linux), the scenarios (fanout,
// idle, resume, storm, sparse), their JSON results and an SVG chart of
// scaling runs.
//
// Platform code is kept apart, one concern per file per system: raising the
// file descriptor limit (rlimit_*.go), the source-address socket option
// (sockopt_*.go) and reading /proc (proc_*.go). Each file without the
// facility says what happens instead.
//
// Everything here talks only to the addresses it is given; the command
// checks they are loopback addresses before it calls in.
//
// Sequence numbers. An event's sequence is, by default, its SSE id (for
// jetsse, the JetStream stream sequence). Publishers embed their send time
// and their own counter in the payload, {"t":<unix nanos>,"n":<counter>},
// so latency can be measured against any server, and losses and duplicates
// can be counted by the counter (SeqData) when a server's ids are not
// sequences.
package bench

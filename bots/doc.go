// Package bots is the load-testing swarm: many headless Tickwire clients
// in one process, each a real client session (client.Client of package
// netcode/client, the code the game uses) playing the benchmark bot of
// docs/GAME.md (game.Bot), and the report of what they measured.
//
// Run runs one swarm: it connects Config.Bots bots over the ramp, lets
// them play through a warm-up, measures for Config.Duration and returns a
// Report with every figure docs/GAME.md defines for a benchmark:
// application and wire bytes per client per second each way,
// input-to-acknowledgement latency, snapshots received against expected,
// interpolation health and corrections (from the client netcode), connect
// failures by reason, the server's tick duration, missed ticks and
// inputs applied late or dropped as stale (scraped from its /metrics:
// how well the clients' input lead works), the server's CPU and memory (given its
// process id) and the swarm's own CPU per bot. Report.Check gates a run
// on Thresholds.
//
// A swarm larger than a machine runs as shards (Config.Shard of
// Config.Shards), each a part of the bots and rooms. A report keeps the
// totals its figures are derived from and its latency distributions as
// mergeable histograms (Histogram, an HdrHistogram), so Merge of the
// shards' reports (read back by DecodeReports) derives the figures of the
// whole swarm, its percentiles exact at the histograms' precision.
//
// The swarm is cheap by construction: a few scheduler goroutines (one by
// default) drive every bot's inputs from one ticker; there is no
// goroutine or ticker per bot beyond those of the client session itself.
// The WebTransport bots share one UDP socket (transport.Socket), read by
// one goroutine several packets at a time, unless Config.OwnSockets.
// Input-to-ack latency is measured from a 128-entry ring per bot filled
// by the scheduler and read in the session's snapshot callback.
//
// botclient.go adapts the client netcode to a bot: it connects a
// client.Client (its connection wrapped in a linksim.Link when the link
// is impaired), and the swarm sends inputs, counts frames and reads
// figures through it. The package never touches the server: it reads
// only what a server publishes (/metrics, /proc).
package bots

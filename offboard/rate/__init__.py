"""The shared rate limiter and the controller that finds an unpublished limit
(pure: time is passed in).

Why the controller (rate/control.py) finds the limit behind every shape of server limiter:

- Pacing. Starts are at least 1 / rate apart and the rate never exceeds --rate, so no 1 s
  window holds more than --rate starts, whatever the server does.
- The pair test. The first two requests go back to back. A spacing limiter (a token bucket
  without a burst, GCRA) refuses the second; a window, or a bucket with a burst, takes both.
  One request tells the two families apart, and each has its own way to be measured.
- Startup, as TCP's slow start: each accepted answer adds a request per round trip (at most
  GROWTH, and at most doubling), so the rate doubles about every round trip while answers
  flow and what is in flight when a limit is met is about what it accepted. With no limit,
  --rate or concurrency / round trip is reached in a second or two. Startup ends at the first
  429, and nothing it measured is trusted as the limit without a check.
- A spacing limiter refuses as soon as the rate passes it, so the rate at the refused send is
  an upper bound and a rate that held PROVE_REQUESTS is a lower one. The search tries rates
  between them, a growing step at a time (never past the geometric middle), until they are
  TIGHT apart, and cruises at the lower: startup's burst never sets the rate.
- A window refuses once it holds its limit: the count it held is the limit. Which requests
  it held depends on where its boundaries are (rate_evidence.Evidence.window_limit tries a
  sliding window and 20 fixed alignments, and keeps the largest count no earlier window or
  429 contradicts). The cruise is MARGIN of the least count a 429 has shown.
- A bucket with a burst looks like a window that takes more than its rate for a while; when
  it refuses after a whole second at one rate was accepted, no window count applies, and the
  rate drops by BETA until it holds.
- The limit drops (another client takes part of the key): the next 429s show the new count
  at once. It comes back: a rate that held 5 s is remembered, and while cruising far under it
  a pulse every 2 s (rate/recovery.py) sends a few requests at that rate, just enough to
  overfill a window at today's cruise; a pulse taken means room, and the rate climbs back.
- Probing above a limit that held costs 429s for nothing on a server whose limit does not
  move, so it is rare (HOLD) and paid for by accepted answers (CREDIT_PER_ANSWER), which keeps
  429s near 1% of requests after startup. The exception is one check FIRST_HOLD after
  startup: a bucket with a burst passes the pair test like a window, and its first 429 shows
  the burst and part of a second, not its rate.
- 429s: the server's Retry-After (or 1 s) pauses everyone after startup and at a cut; a
  probe's own 429 pauses only SHORT_PAUSE. A bad Retry-After gets `checked_retry_after`'s
  defined behaviour.

Where it falls short (the simulation shows each; BENCHMARKS.md has the figures): a limit of
2 a second that drops to 0.5 and comes back cannot be found again within 10 s at 2% of
requests in 429s, by any controller, since each look costs a 429 out of a budget of about 9;
with a 200 ms round trip and concurrency 64, startup's in-flight requests cost 429s and the
first 10 s lose the round trip, the ramp and the server's pause; and a bucket with a small
burst (L / 4) passes for a window whose count is low, found out only by the check after
startup.
"""

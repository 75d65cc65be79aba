"""The shared rate limiter and the controller that finds an unpublished limit
(pure: time is passed in).

Why the controller (rate/control.py, its start in rate/startup.py, a spacing limiter's search
in rate/spacing.py) finds the limit behind every shape of server limiter:

- Pacing. Starts are at least 1 / rate apart and the rate never exceeds --rate, so no 1 s
  window holds more than --rate starts, whatever the server does.
- The pair test (rate/pair.py). The first two requests go back to back. A spacing limiter
  (a token bucket without a burst, GCRA) refuses the second; a window, or a bucket with a
  burst, takes both. One request tells the two families apart, and each has its own way to
  be measured. Two starts more than PAIR_GAP apart (the run's first look-up goes alone) are
  no pair: the test starts over with the next request, whose siblings follow it at once.
  Nothing starts between the pair's two answers (a start at --rate would meet the window
  the pair filled). When the refused one had company in its second (the first look-up, its
  answer maybe not read yet), a window of that count refuses it just as a spacing limiter
  does: one request more (the question), alone, at the look-ups' own spacing after the
  pair's first, tells them apart. Refused: the window, full until its first rolls, of that
  count: everyone waits its Retry-After and cruises under it (no initial window, whose 429
  would be one more, and no check after startup: the question's 429 was it). Taken: a
  spacing limiter, which took that gap already, searched upwards from BETA of the look-ups'
  rate (one gap may be a tolerance's). Where no question fits in the window's second (the
  gap too long, or no request ready in time), everyone waits the 429's Retry-After (the
  window rolls) and a pair is asked again, nothing else sent before its verdict.
- Startup, as TCP begins with an initial window (issue 22): nothing has shown a limit, so
  only --rate paces the starts and the caller's --concurrency bounds what is in flight (the
  controller is told it, to know the rate requests really leave at). With no limit, --rate
  or concurrency / round trip is reached at once; the look-ups before the first DELETE are
  not paced by a limit no one has seen. Startup ends at the first 429, which backs off (the
  window's count is what it held), and nothing it measured is trusted as the limit without
  a check. A spacing limiter found by the pair test refuses whatever comes faster than its
  rate: the window's other 429s are echoes, and a slow start from STARTUP_RATE (each
  accepted answer adds a request per round trip, at most GROWTH and at most doubling) finds
  its order, its first 429 an upper bound.
- The trickle (rate/trickle.py). A bucket with a small burst refuses the initial window
  within a tenth of a second: its count (the burst and that tenth of its rate) is what a
  window of that count would show. A window that held it admits nothing until it rolls; a
  bucket refills. So right after startup's 429 two requests go one at a time, 1 / (2 x count)
  apart: a window refuses the first (one 429 more; everyone then waits the Retry-After from
  the first 429, as before), a bucket takes both, which proves a rate of (n - 1) / T for the
  n it accepted in the T s after its last 429, and the rate climbs from the count at once
  (BUCKET_PROBE), then checks once more as after startup. No question when it cannot tell:
  a count under 4, a count whose first request is nearly a second old (a sliding window filled
  over a second rolls a request at a time, as a bucket trickles), a request sent too late (all
  the callers waited out their own 429s), or a bucket proving under a quarter of the count
  (its burst was more than a second of its rate: the window's way finds it). When the request
  was too late because the caller never had its concurrency to send (the look-ups before the
  batch, a page at a time: a bucket of burst 5 refuses them), startup begins again, once, at
  the initial window when the 429's pause is over, and asks at that 429.
- A spacing limiter refuses as soon as the rate passes it, so the rate at the refused send is
  an upper bound and a rate that held PROVE_REQUESTS is a lower one. The search tries rates
  between them, a growing step at a time (never past the geometric middle), until they are
  TIGHT apart, and cruises at the lower: startup's burst never sets the rate. A tolerance
  lets a rate just over the limit pass its proof (GCRA at 20/s with 5 ms takes 20.25/s for 8
  requests): refused later, the lower bound drops to WIDEN of it. Its starts are spaced from
  when they really left (a late one's next, caught up to its turn, would meet the tolerance),
  and a 429 at a cruise that held JITTER_HELD (two arrivals bunched on a busy machine) moves
  no bound.
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
  probe's own 429 pauses only SHORT_PAUSE, and so does any 429 behind a bucket the trickle
  found (it refills at its rate; a second's pause idled 100 requests at 100/s). What a
  Retry-After means is rate/pause.py's one rule (`checked_retry_after`), which the refused
  request's retry uses too (it still waits the server's second).

Where it falls short (the simulation shows each; BENCHMARKS.md has the figures): a limit of
2 a second that drops to 0.5 and comes back cannot be found again within 10 s at 2% of
requests in 429s, by any controller, since each look costs a 429 out of a budget of about 9;
issue 22's 30 s and 3% leave any controller 14 429s against a least of 11 (a look every
10 s through the 100 s of the low limit), which this one's pulses (every 2 s, then 10 s)
miss; with a 200 ms round trip and concurrency 64, the initial window has 64 requests in
flight before any answer, and all but L of them are 429s (5-9% of a 40 s run at L = 2 or
20); and a bucket with a small burst found by the trickle is still
found slowly when no caller was free to ask (concurrency 4 at --rate 50 L: all four wait out
their 429s) or the round trip is long (200 ms at L = 200).
"""

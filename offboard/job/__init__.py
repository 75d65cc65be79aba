"""One run of one SOURCE, from start to exit code: prepare, decide, execute, finish."""

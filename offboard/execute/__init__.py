"""One row's work (revoke, preview), the bounded workers, classification, read-back, activity."""

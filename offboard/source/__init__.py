"""Read a SOURCE (CSV, YAML rows or a job file) into a Batch of Rows."""

"""What people read: the lists, summary, pages, terminal table, progress bar, logs, metrics."""

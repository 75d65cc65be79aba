"""Values every stage shares: rows, outcomes and results, errors, the clock, settings,
the user directory, the job description, locks and file-system helpers. Imports nothing of offboard.
"""

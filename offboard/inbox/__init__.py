"""A folder of job files: which files are jobs, their state, run and plan on a folder."""

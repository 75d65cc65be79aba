"""Resolve, validate, dedupe and guard rows into Actions; decide who the batch deletes;
write and check plan.json. Pure: no I/O but plan files.
"""

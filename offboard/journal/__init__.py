"""The journal: where what happened to each row lives.

The writer, the reader for --resume, the shared journal file and its group commit.
"""

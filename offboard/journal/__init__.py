"""The journal: where what happened to each row lives (writer, reader for --resume, group commit).
"""

"""The shared rate limiter and the controller that finds an unpublished limit
(pure: time is passed in).
"""

"""edm: email marketing that keeps old customers through well-judged, well-timed contact."""

__version__ = "0.1.0"

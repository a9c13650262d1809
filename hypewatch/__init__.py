"""hypewatch: a social-media trend monitor."""

__version__ = "0.1.0"

"""stance: stance and framing annotation of news paragraphs toward configured targets."""

__version__ = "0.1.0"

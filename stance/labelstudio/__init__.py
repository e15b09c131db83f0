"""Human review in Label Studio: the labeling config (xml), the one HTTP client (client), push and pull (sync).

Nothing here imports the Label Studio SDK at import time; only `client.py` imports it at all.
"""

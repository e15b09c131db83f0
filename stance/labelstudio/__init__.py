"""Human review in Label Studio.

xml (the labeling config), tasks (predictions <-> task JSON, exports -> labelled records), push,
pull, client (the one module that talks HTTP, with the one retry policy), failures (what a failed
request means), credentials (URL and key), server (a local Label Studio process).

Nothing here imports the Label Studio SDK at import time.
"""

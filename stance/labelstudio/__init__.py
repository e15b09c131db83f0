"""Human review in Label Studio.

xml (the labeling config), screen (the HTML pieces of the review screen, and the project's
instructions), tasks (predictions <-> task JSON, exports -> labelled records), run_index (a run's
predictions as push reads them), push, converge (one project, task and prediction each, however
many pushes race), versions (which model version a project pre-selects), pull, review
(disagreements and their adjudication), live and backend (the ML backend: the live model and
Label Studio's ML backend protocol), client and client_admin (the one place that talks HTTP, with
the one retry policy), failures (what a failed request means), credentials (URL and key), server
(a local Label Studio process).

Nothing here imports the Label Studio SDK, Starlette or uvicorn at import time.
"""

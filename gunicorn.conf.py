"""gunicorn settings, read from the working directory by every `gunicorn` started in the
checkout or the image (Dockerfile, docker-compose.yml, Procfile); command-line flags win.

Two processes of two threads each: on this 2-core machine it kept the CPUs busiest in
`manage.py bench_intake` (4x2, 2x3, 2x4 and 3x1 all did worse: more runnable threads than
cores only add contention, and threads cover the waits on PostgreSQL and Redis).
`WEB_CONCURRENCY` / `WEB_THREADS` override them for bigger machines.
"""

import os

workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("WEB_THREADS", "2"))
worker_class = "gthread"
keepalive = 5
# No token from a query string (`?token=rsi_…`) in the access or error log.
logger_class = "tracker.logsafety.RedactingGunicornLogger"

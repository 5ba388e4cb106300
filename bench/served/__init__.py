"""The parts of `manage.py bench_served` (also used by bench_sdk_pages): seeding what the served
pages read (`seeding`), the HTTP client and the figures' helpers (`client`), timing a page
(`timing`) and serving a checkout through gunicorn (`gunicorn`)."""

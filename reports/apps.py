from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = "Reports and dashboards"

    def ready(self) -> None:
        # Imported here, as signal wiring in ready() always is: the app registry is ready now.
        from django.db.backends.signals import connection_created

        from .aggregates import register_sqlite_functions

        # SQLite has no percentile_cont: give it a MEDIAN aggregate so the same queries run.
        connection_created.connect(register_sqlite_functions, dispatch_uid="reports-sqlite-median")

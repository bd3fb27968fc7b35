from django.apps import AppConfig


class KpisConfig(AppConfig):
    name = "kpis"
    verbose_name = "KPIs and ROI"

    def ready(self) -> None:
        from kpis import receivers
        from kpis.panels import register_kpi_panels

        receivers.connect()
        register_kpi_panels()

"""Pages of the connectors app."""

urlpatterns: list = []

"""Pages of the registry app."""

urlpatterns: list = []

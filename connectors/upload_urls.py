"""Page routes of the uploads (joined into ``connectors.urls.urlpatterns``)."""

from django.urls import path

from connectors import upload_views

urlpatterns = [path("uploads/", upload_views.upload, name="fact-upload")]

from rest_framework.routers import SimpleRouter

from coe.api.history import AuditLogViewSet
from coe.api.views import FactoryViewSet, MembershipViewSet, UserViewSet

router = SimpleRouter()
router.register("factories", FactoryViewSet, basename="factory")
router.register("memberships", MembershipViewSet, basename="membership")
router.register("users", UserViewSet, basename="user")
router.register("audit-log", AuditLogViewSet, basename="logentry")

urlpatterns = router.urls

from rest_framework.routers import DefaultRouter

app_name = "analytics"
router = DefaultRouter()
urlpatterns = router.urls

from rest_framework.routers import DefaultRouter

app_name = "imaging"
router = DefaultRouter()
urlpatterns = router.urls

app_name = "endpoints"

urlpatterns = []

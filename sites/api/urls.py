from .views import NGIViewSet, ProjectViewSet, ScopeViewSet, SiteViewSet

ROUTES = [
    ("projects", ProjectViewSet),
    ("ngis", NGIViewSet),
    ("sites", SiteViewSet),
    ("scopes", ScopeViewSet),
]

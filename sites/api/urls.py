from .views import (
    CertificationChangeViewSet,
    NGIViewSet,
    ProjectViewSet,
    RoleViewSet,
    ScopeViewSet,
    SitePropertyViewSet,
    SiteViewSet,
    UserViewSet,
)

ROUTES = [
    ("projects", ProjectViewSet),
    ("ngis", NGIViewSet),
    ("sites", SiteViewSet),
    ("scopes", ScopeViewSet),
    ("site-properties", SitePropertyViewSet),
    ("certification-changes", CertificationChangeViewSet),
    ("roles", RoleViewSet),
    ("users", UserViewSet),
]

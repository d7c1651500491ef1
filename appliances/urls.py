from django.urls import path

from . import demo, store

# The store: what cloud sites' image sync tools download (DESIGN.md contracts).
urlpatterns = [
    path("store/vo/<str:vo>/image.list", store.vo_list, name="store_vo_list"),
    path("store/vappliance/<str:name>/image.list", store.appliance_list, name="store_appliance_list"),
    path("store/signer-chain.pem", store.signer_chain, name="store_signer_chain"),
]

# The demo's image files, served by the portal itself (404 unless DEMO is set).
urlpatterns += [path("demo-images/<str:file_name>", demo.demo_image, name="demo_image")]

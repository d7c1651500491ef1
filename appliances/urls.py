from django.urls import path

from . import store

# The store: what cloud sites' image sync tools download (DESIGN.md contracts).
urlpatterns = [
    path("store/vo/<str:vo>/image.list", store.vo_list, name="store_vo_list"),
    path("store/vappliance/<str:name>/image.list", store.appliance_list, name="store_appliance_list"),
    path("store/signer-chain.pem", store.signer_chain, name="store_signer_chain"),
]

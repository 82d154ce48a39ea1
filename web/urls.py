from django.urls import include, path
from django.views.i18n import JavaScriptCatalog

import core.converters  # noqa: F401  (registers the "id" converter)
from web.views import account, actions, invitations, page_imports, pages

urlpatterns = [
    path("", pages.home, name="home"),
    path("library/", pages.library, name="library"),
    path("library/upload/", actions.upload, name="web-upload"),
    path("library/import/", actions.import_url, name="web-import"),
    path("library/paste/", actions.paste_text, name="web-paste"),
    path("documents/<id:pk>/", pages.document_detail, name="document-page"),
    path("documents/<id:pk>/rename/", actions.rename, name="web-rename"),
    path("documents/<id:pk>/delete/", actions.delete, name="web-delete"),
    path("documents/<id:pk>/retry/", actions.retry, name="web-retry"),
    path("documents/<id:pk>/pages/add/", page_imports.add_page, name="web-add-page"),
    path("documents/<id:pk>/audiobook/", actions.audiobook, name="web-audiobook"),
    path("documents/<id:pk>/audios/", actions.make_all_audio, name="web-make-audio"),
    path("documents/<id:pk>/shares/", actions.share, name="web-share"),
    path("shares/<id:pk>/", actions.change_share, name="web-share-change"),
    path("shares/<id:pk>/remove/", actions.remove_share, name="web-share-remove"),
    path("documents/<id:pk>/join/", invitations.open_invitation, name="web-open-invitation"),
    path(
        "invitations/<id:pk>/withdraw/",
        actions.withdraw_invitation,
        name="web-invitation-withdraw",
    ),
    path("settings/", pages.settings_page, name="settings"),
    path("settings/export/", account.start_export, name="web-export"),
    path("settings/delete-account/", account.delete_account, name="web-delete-account"),
    path("voices/<str:voice_id>/sample/", pages.voice_sample, name="web-voice-sample"),
    # Translations for the page scripts (gettext, ngettext), served as a file: no inline script.
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("", include("web.reader_urls")),
]

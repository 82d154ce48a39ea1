"""Server-rendered pages over the same services, selectors and access policy as the API.

`pages` renders what a person sees; `actions` takes the plain form posts that work without
JavaScript. With JavaScript the same forms call the API instead; both end in the same services.
"""

from web.views import actions, pages

__all__ = ["actions", "pages"]

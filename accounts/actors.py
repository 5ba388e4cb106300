"""Who acts and who looks, as services and selectors type them (one alias each, everywhere).

`Actor`: the person doing something (a signed-in user, an API token's user, the reporter of
mail or of an intake event): services that write take one. `Viewer`: whoever asks to see
something, signed in or not: the access selectors answer anonymous people with nothing.
"""

from django.contrib.auth.models import AnonymousUser

from .models import User

type Actor = User
type Viewer = User | AnonymousUser

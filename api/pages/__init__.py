"""Server-rendered web pages (Jinja2), one module per resource; this file only assembles
their routers.

    auth.py         log in, log out
    accounts.py     sign-up, password change, the team
    phase.py        the home page's list of phases, a phase's page
    leaderboard.py  a phase's public or private board
    submissions.py  upload, a team's submissions, one submission's page
    admin.py        the organizer's dashboard
    console.py      the organizer's phase forms and actions (phase_form.py: the form's fields)
    kit.py          the starting kit's download and commands
    render.py, errors.py, csrf.py, format.py, words.py, markdown.py   shared by the pages

Pages call the same use-cases (`api.services`) and reads (`api.crud`, `api.visibility`) as
the JSON API, and never `api.routes` (import-linter checks); they only turn a form into a
call and its outcome or typed error into HTML or a redirect. Small `static/app.js` polls
the JSON API to refresh states and boards without reloads, and posts the buttons' actions
to it. Browsers authenticate with the `unlearn_session` cookie (HttpOnly, SameSite=Lax) set
at login; the forms that set or end a session carry anti-CSRF tokens signed with the secret
key (`api.pages.csrf`).
"""

from __future__ import annotations

from fastapi import APIRouter

from api.pages import accounts, admin, auth, console, kit, leaderboard, phase, submissions
from api.pages.errors import error_page
from api.pages.render import STATIC_DIR

router = APIRouter()

for _module in (auth, phase, leaderboard, submissions, admin, accounts, kit, console):
    router.include_router(_module.router)

__all__ = ["STATIC_DIR", "error_page", "router"]

"""The server's use-cases: each action once, called by the JSON routes and the pages alike.

    handover.py     the one policy for messages to the workers after a commit
    submissions.py  submit, validate only, the visible submission, logs, cancel, final pick,
                    rescore
    phases.py       create, edit, prepare again (each then prepared), a team's quota today
    accounts.py     sign-up and the organizer accounts

Why a layer apart from `api.crud`: crud reads and writes the database, one unit of work per
function, and knows nothing of the queue, the stored logs or who asks. A use-case is what
one request means: who may do it, the crud calls, then what is sent to the workers. It is
the same for `api.routes` (JSON) and `api.pages` (HTML), which only translate HTTP to a
call, and its outcome or typed error (`competition.errors`, `api.errors.APIError`) to their
own answer. Nothing here takes a request or a response object. import-linter keeps routes
and pages from importing each other (contracts in pyproject.toml), so a use-case cannot
drift back into a route module.
"""

from api.services import accounts, phases, submissions

__all__ = ["accounts", "phases", "submissions"]

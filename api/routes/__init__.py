"""JSON API routers, one module per resource, mounted under `/api/v1` by `api.main`."""

from api.routes import admin, auth, leaderboard, phases, records, submissions, teams

__all__ = ["admin", "auth", "leaderboard", "phases", "records", "submissions", "teams"]

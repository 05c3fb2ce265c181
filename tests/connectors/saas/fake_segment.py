"""Segment's Public API regulations as its generated SDKs describe them: a workspace
regulation is created (``{data: {regulateId}}``) and then reported by ``GET
/regulations/{id}`` with an ``overallStatus`` that moves from INITIALIZED through RUNNING
to FINISHED (or a failure) on Segment's own clock; errors are ``{errors: [...]}``."""

from __future__ import annotations

from .vendor_server import Fake, Job, Reply, Request, route

TOKEN = "sgp_Q1x5RcQxQ0pZ3segmenttesttoken"


class FakeSegment(Fake):
    def __init__(self) -> None:
        self.regulations: dict[str, Job] = {}
        #: the statuses each new regulation reports, one per status request, the last repeated
        self.progress = ["INITIALIZED", "RUNNING", "FINISHED"]
        self.users_with_data = {"cust-alice-42", "cust-bob-7"}

    def authorize(self, request: Request) -> Reply | None:
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return 401, {"errors": [{"type": "unauthorized", "message": "Unauthorized"}]}
        return None

    def missing(self, request: Request) -> Reply:
        return 404, {"errors": [{"type": "not-found", "message": "Resource not found"}]}

    @route("GET", r"/")
    def workspace(self, request: Request) -> Reply:
        return 200, {"data": {"workspace": {"id": "ws1", "slug": "acme", "name": "Acme"}}}

    @route("POST", r"/regulations")
    def create(self, request: Request) -> Reply:
        body = request.json or {}
        if body.get("subjectType") not in ("USER_ID", "OBJECT_ID") or not body.get("subjectIds"):
            return 422, {
                "errors": [
                    {
                        "type": "validation",
                        "message": "subjectIds is required",
                        "field": "subjectIds",
                    }
                ]
            }
        rid = f"reg{len(self.regulations) + 1}"
        subjects = set(body["subjectIds"])

        def delete() -> None:
            self.users_with_data -= subjects

        self.regulations[rid] = Job(list(self.progress), "FINISHED", delete)
        return 200, {"data": {"regulateId": rid}}

    @route("GET", r"/regulations/(\w+)")
    def status(self, request: Request, rid: str) -> Reply:
        regulation = self.regulations.get(rid)
        if regulation is None:
            return self.missing(request)
        status = regulation.status()
        return 200, {
            "data": {
                "regulation": {
                    "id": rid,
                    "workspaceId": "ws1",
                    "overallStatus": status,
                    "createdAt": "2026-01-01T00:00:00Z",
                    **({"finishedAt": "2026-01-02T00:00:00Z"} if status == "FINISHED" else {}),
                    "streamStatus": [],
                }
            }
        }

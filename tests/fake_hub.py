"""A local fake of the Hugging Face Hub: the few HTTP endpoints huggingface_hub 2.4 and transformers 5.23
call to load a model, served on 127.0.0.1, so tests run the real from_pretrained code paths without network."""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self
from urllib.parse import unquote, urlsplit

CONVERSION_PR_TITLE = "Adding `safetensors` variant of this model"  # what transformers' auto_conversion looks for


@dataclass(frozen=True)
class Revision:
    sha: str  # 40 hex digits, like a git commit id
    files: dict[str, bytes]


@dataclass(frozen=True)
class PullRequest:
    num: int
    author: str
    revision: Revision  # main's files plus the PR's, one commit on top of main


@dataclass(frozen=True)
class FakeRepo:
    main: Revision
    prs: tuple[PullRequest, ...] = ()

    def revision(self, ref: str) -> Revision | None:
        if ref in ("main", self.main.sha):
            return self.main
        return next((pr.revision for pr in self.prs if ref in (f"refs/pr/{pr.num}", pr.revision.sha)), None)


def sha(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


@dataclass
class FakeHub:
    repos: dict[str, FakeRepo]
    requests: list[str] = field(default_factory=list)  # "METHOD path", in order, for assertions

    def __enter__(self) -> Self:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_HEAD(self) -> None:
                hub.requests.append(f"HEAD {self.path}")
                self._answer(body=False)

            def do_GET(self) -> None:
                hub.requests.append(f"GET {self.path}")
                self._answer(body=True)

            def do_POST(self) -> None:  # nothing here accepts writes
                hub.requests.append(f"POST {self.path}")
                self._send(405, b"", {})

            def _answer(self, body: bool) -> None:
                status, payload, headers = hub.route(urlsplit(self.path).path)
                self._send(status, payload if body else b"", {**headers, "Content-Length": str(len(payload))})

            def _send(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def route(self, path: str) -> tuple[int, bytes, dict[str, str]]:
        # Split before unquoting: a revision such as refs/pr/1 arrives as one quoted segment.
        parts = [unquote(p) for p in path.split("/")[1:]]
        if parts[:2] == ["api", "models"] and len(parts) >= 4:
            return self._api("/".join(parts[2:4]), parts[4:])
        if len(parts) >= 5 and parts[2] == "resolve":
            return self._resolve("/".join(parts[:2]), parts[3], "/".join(parts[4:]))
        return 404, b"", {}

    def _resolve(self, repo_id: str, ref: str, filename: str) -> tuple[int, bytes, dict[str, str]]:
        repo = self.repos.get(repo_id)
        if repo is None:
            return 404, b"", {"X-Error-Code": "RepoNotFound"}
        revision = repo.revision(ref)
        if revision is None:
            return 404, b"", {"X-Error-Code": "RevisionNotFound"}
        if filename not in revision.files:
            return 404, b"", {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": revision.sha}
        content = revision.files[filename]
        etag = hashlib.sha256(content).hexdigest()
        return (
            200,
            content,
            {"X-Repo-Commit": revision.sha, "ETag": f'"{etag}"', "Content-Type": "application/octet-stream"},
        )

    def _api(self, repo_id: str, rest: list[str]) -> tuple[int, bytes, dict[str, str]]:
        repo = self.repos.get(repo_id)
        if repo is None:
            return 404, b"", {"X-Error-Code": "RepoNotFound"}
        if not rest or rest[0] == "revision":
            revision = repo.revision(rest[1] if rest else "main")
            if revision is None:
                return 404, b"", {"X-Error-Code": "RevisionNotFound"}
            info = {
                "id": repo_id,
                "sha": revision.sha,
                "private": False,
                "siblings": [{"rfilename": f} for f in revision.files],
            }
            return _json(info)
        if rest[0] == "commits" and len(rest) == 2:
            revision = repo.revision(rest[1])
            if revision is None:
                return 404, b"", {"X-Error-Code": "RevisionNotFound"}
            shas = [revision.sha] + ([repo.main.sha] if revision is not repo.main else [])
            return _json([_commit(s) for s in shas])
        if rest[0] == "tree" and len(rest) >= 2:
            revision = repo.revision(rest[1])
            if revision is None:
                return 404, b"", {"X-Error-Code": "RevisionNotFound"}
            prefix = "/".join(rest[2:])
            entries = [
                {"type": "file", "path": f, "size": len(b), "oid": sha(f)}
                for f, b in revision.files.items()
                if f.startswith(prefix)
            ]
            return _json(entries) if entries else (404, b"", {"X-Error-Code": "EntryNotFound"})
        if rest == ["discussions"]:
            prs = [_discussion(repo_id, pr) for pr in repo.prs]
            return _json({"discussions": prs, "count": len(prs), "start": 0, "numTotal": len(prs)})
        return 404, b"", {}


def _json(data: object) -> tuple[int, bytes, dict[str, str]]:
    return 200, json.dumps(data).encode(), {"Content-Type": "application/json"}


def _commit(commit_sha: str) -> dict[str, object]:
    return {
        "id": commit_sha,
        "authors": [{"user": "someone"}],
        "date": "2024-01-01T00:00:00.000Z",
        "title": "commit",
        "message": "",
    }


def _discussion(repo_id: str, pr: PullRequest) -> dict[str, object]:
    return {
        "num": pr.num,
        "title": CONVERSION_PR_TITLE,
        "status": "open",
        "isPullRequest": True,
        "author": {"name": pr.author},
        "createdAt": "2024-01-01T00:00:00.000Z",
        "repo": {"name": repo_id, "type": "model"},
    }

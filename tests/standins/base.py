"""What every provider stand-in shares: lifecycle, the request log, faults, the authorize page."""

from __future__ import annotations

import secrets
import threading
import traceback
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar, Self
from urllib.parse import urlencode, urlsplit

from .faults import Fault, FaultQueue, drop_connection
from .ledger import Ledger, TokenState
from .server import LocalServer
from .wire import RecordedRequest, Response, json_response, redirect_back

Route = Callable[[RecordedRequest], Response]


class ProviderStandIn:
    """One provider's documented HTTP API on 127.0.0.1, with switches and faults for tests."""

    name: ClassVar[str]
    default_client_id: ClassVar[str]
    default_client_secret: ClassVar[str]
    default_account_id: ClassVar[str]
    default_account_name: ClassVar[str]
    authorize_path: ClassVar[str]
    client_param: ClassVar[str] = "client_id"  # TikTok calls it client_key
    default_scope: ClassVar[str]
    redirect_fragment: ClassVar[str] = ""

    def __init__(
        self,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        account_id: str | None = None,
        account_name: str | None = None,
    ) -> None:
        self.client_id = client_id or self.default_client_id
        self.client_secret = client_secret or self.default_client_secret
        self.account_id = account_id or self.default_account_id
        self.account_name = account_name or self.default_account_name
        self.redirect_uris: set[str] = set()  # empty: any absolute http(s) URI is registered
        self.internal_errors: list[str] = []  # stand-in bugs, each answered with a 500
        self.ledger = Ledger()
        self._lock = threading.RLock()
        self._requests: list[RecordedRequest] = []
        self._faults = FaultQueue()
        self._denials: list[tuple[str, str]] = []
        self._stopping = threading.Event()
        self._server: LocalServer | None = None
        self._routes = self.routes()

    # Provider-specific parts ---------------------------------------------------------------

    def routes(self) -> dict[tuple[str, str], Route]:
        """(method, documented path) -> handler; handlers run under the stand-in's lock."""
        raise NotImplementedError

    def route_path(self, path: str) -> str:
        """The documented path a received path stands for."""
        return path

    def authorize_problem(self, query: dict[str, str]) -> tuple[str, str] | None:
        """An (error, description) to send back to the redirect_uri instead of a code."""
        if query.get("response_type") != "code":
            return "unsupported_response_type", "response_type must be code"
        if not query.get("scope"):
            return "invalid_scope", "scope is required"
        return None

    def authorize_rejected(self, reason: str) -> Response:
        """Bad client or redirect_uri: shown to the user, never redirected (that would leak)."""
        return json_response(400, {"error": "invalid_request", "error_description": reason})

    def denial_params(self, error: str, description: str) -> dict[str, str]:
        return {"error": error, "error_description": description}

    def new_code(self) -> str:
        return secrets.token_urlsafe(24)

    # Lifecycle -----------------------------------------------------------------------------

    def start(self, port: int = 0) -> None:
        if self._server is not None:
            raise RuntimeError(f"the {self.name} stand-in is already running")
        self._stopping.clear()
        self._server = LocalServer(type(self).__name__, self._serve, port)

    def stop(self) -> None:
        """Wake hanging handlers first, so shutdown never waits out a hang."""
        if self._server is not None:
            self._stopping.set()
            self._server.stop()
            self._server = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """Replaces scheme and host of every documented URL of this provider."""
        if self._server is None:
            raise RuntimeError(f"the {self.name} stand-in is not running")
        return self._server.base_url

    def settings(self) -> dict[str, str]:
        """The service's environment for this provider."""
        prefix = self.name.upper()
        return {
            f"{prefix}_CLIENT_ID": self.client_id,
            f"{prefix}_CLIENT_SECRET": self.client_secret,
            f"{prefix}_BASE_URL": self.base_url,
        }

    def authorize_url(self, redirect_uri: str, state: str, **params: str) -> str:
        """An authorize URL as the service would build it, for tests of the stand-ins."""
        query = {
            self.client_param: self.client_id,
            "response_type": "code",
            "scope": self.default_scope,
            "redirect_uri": redirect_uri,
            "state": state,
            **params,
        }
        return f"{self.base_url}{self.authorize_path}?{urlencode(query)}"

    # Test controls -------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        wanted = self.route_path(path)
        return [r for r in self.requests if self.route_path(r.path) == wanted]

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def fail_next(
        self,
        path: str,
        status: int,
        body: Any = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next `times` requests to `path` with `status` (a dict body goes as JSON)."""
        if isinstance(body, bytes | str):
            raw = body.encode() if isinstance(body, str) else body
            response = Response(status, raw, headers or {})
        else:
            default = {"error": {"message": "injected failure", "code": status}}
            response = json_response(status, default if body is None else body, headers)
        self._add_fault(path, Fault("fail", times, response=response))

    def hang_next(self, path: str, seconds: float, times: int = 1) -> None:
        """Wait `seconds` before answering the next requests to `path` (client timeouts)."""
        self._add_fault(path, Fault("hang", times, seconds=seconds))

    def reset_next(self, path: str, times: int = 1) -> None:
        """Drop the connection of the next requests to `path` without any answer."""
        self._add_fault(path, Fault("reset", times))

    def deny_next_authorize(
        self, error: str = "access_denied", description: str = "The user denied the request"
    ) -> None:
        """The creator clicks "Cancel" on the next authorize page."""
        with self._lock:
            self._denials.append((error, description))

    def revoke_all(self) -> None:
        """The creator removed the app: every code and token issued so far stops working."""
        with self._lock:
            self.ledger.revoke_all()

    def expire_access_tokens(self) -> None:
        """Every access token issued so far expires now (refresh tokens live on)."""
        with self._lock:
            self.ledger.expire_access_tokens()

    def advance(self, seconds: float) -> None:
        """Move this stand-in's clock forward: codes and tokens expire without sleeping."""
        with self._lock:
            self.ledger.advance(seconds)

    def token_state(self, value: str) -> TokenState:
        """'valid', 'expired', 'revoked' or 'unknown', as this provider sees the token now."""
        with self._lock:
            return self.ledger.lookup(value)[1]

    # Request handling ----------------------------------------------------------------------

    def _authorize(self, request: RecordedRequest) -> Response:
        query = request.query
        if query.get(self.client_param) != self.client_id:
            return self.authorize_rejected(f"unknown {self.client_param}")
        redirect_uri = query.get("redirect_uri", "")
        if not self._redirect_uri_allowed(redirect_uri):
            return self.authorize_rejected("redirect_uri is not registered for this app")
        state = query.get("state")
        if self._denials:
            error, description = self._denials.pop(0)
            return self._redirect_back(redirect_uri, state, self.denial_params(error, description))
        problem = self.authorize_problem(query)
        if problem:
            params = {"error": problem[0], "error_description": problem[1]}
            return self._redirect_back(redirect_uri, state, params)
        code = self.ledger.add_code(self.new_code(), redirect_uri, query)
        return self._redirect_back(redirect_uri, state, {"code": code.value})

    def _redirect_uri_allowed(self, uri: str) -> bool:
        parts = urlsplit(uri)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment:
            return False
        return not self.redirect_uris or uri in self.redirect_uris

    def _redirect_back(self, uri: str, state: str | None, params: dict[str, str]) -> Response:
        return redirect_back(
            uri,
            params | ({} if state is None else {"state": state}),
            fragment=self.redirect_fragment,
        )

    def _add_fault(self, path: str, fault: Fault) -> None:
        with self._lock:
            self._faults.add(self.route_path(path), fault)

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        request = RecordedRequest.read(handler)
        route = self.route_path(request.path)
        with self._lock:
            self._requests.append(request)
            fault = self._faults.take(route)
        if fault is not None:
            request.fault = fault.describe()
            if fault.kind == "reset" or (
                fault.kind == "hang" and self._stopping.wait(fault.seconds)
            ):
                return drop_connection(handler)
        response = fault.response if fault and fault.response else self._answer(route, request)
        request.status = response.status
        response.write(handler)

    def _answer(self, route: str, request: RecordedRequest) -> Response:
        methods = {method: h for (method, path), h in self._routes.items() if path == route}
        if not methods:
            return json_response(404, {"error": f"no such path on the {self.name} stand-in"})
        handle = methods.get(request.method)
        if handle is None:
            return json_response(405, {"error": f"{request.method} not allowed"})
        try:
            with self._lock:
                return handle(request)
        except Exception:  # a stand-in bug must fail the test loudly, not hang the client
            self.internal_errors.append(traceback.format_exc())
            return json_response(500, {"error": "stand-in bug", "see": "internal_errors"})

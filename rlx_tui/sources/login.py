"""The server decides how each table is downloaded: the ``lake-login-login`` Lambda, called as lakeapi does.

lakeapi 0.22.3 (``main._login``) invokes the Lambda once per table with
``{"command": "login.login", "api_key": <access key id>, "table": ...,
"anonymous_access": ..., "user_agent": "lakeapi/<version>"}`` and reads
``username`` and ``method`` from the JSON answer: ``s3``, ``cloudfront``,
``upgrade`` (it warns, then downloads over S3) or ``forceupgrade`` (it
refuses). Any error falls back to ``s3``. :class:`Logins` does the same through
the boto3 session's own Lambda client, once per table per run.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import botocore.config

from rlx_tui.logs import logger
from rlx_tui.sources.base import ErrorKind, SourceError
from rlx_tui.sources.clients import uncached

LOGIN_FUNCTION = "lake-login-login"
UNKNOWN_USER = "unknown"  # lakeapi's username when the login call failed


class TransferMethod(StrEnum):
    S3 = "s3"
    CLOUDFRONT = "cloudfront"
    UPGRADE = "upgrade"
    FORCEUPGRADE = "forceupgrade"


@dataclass(frozen=True, slots=True)
class LoginAnswer:
    """What the service said for one table (or why rlx-tui fell back to ``s3``, as lakeapi does)."""

    table: str
    username: str
    method: str  # as answered; unknown methods download over S3, like lakeapi
    fallback: str | None = None

    @property
    def transfer(self) -> TransferMethod:
        """How to download: CloudFront only when told so; ``upgrade`` and anything else mean S3."""
        return TransferMethod.CLOUDFRONT if self.method == TransferMethod.CLOUDFRONT else TransferMethod.S3

    @property
    def user_name(self) -> str | None:
        """The answered username's last ``/`` segment (of an ARN), as lakeapi's ``used_data`` takes it."""
        if self.username in ("", UNKNOWN_USER):
            return None
        return self.username.rsplit("/", 1)[-1] or None


def login_payload(access_key: str, table: str, anonymous: bool, lakeapi_version: str) -> dict[str, Any]:
    """Exactly the payload lakeapi 0.22.3 sends."""
    return {
        "command": "login.login",
        "api_key": access_key,
        "table": table,
        "anonymous_access": anonymous,
        "user_agent": f"lakeapi/{lakeapi_version}",
    }


def parse_answer(table: str, raw: bytes, function_error: str | None) -> LoginAnswer:
    """Read ``username`` and ``method`` from the Lambda's answer; anything unusable falls back to ``s3``."""
    if function_error:
        return LoginAnswer(
            table, UNKNOWN_USER, TransferMethod.S3, f"the login function failed ({function_error})"
        )
    try:
        payload = json.loads(raw.decode("utf-8"))
        username, method = payload["username"], payload["method"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return LoginAnswer(
            table, UNKNOWN_USER, TransferMethod.S3, "the login answer has no username and method"
        )
    if not isinstance(username, str) or not isinstance(method, str):
        return LoginAnswer(table, UNKNOWN_USER, TransferMethod.S3, "the login answer is not text")
    return LoginAnswer(table, username, method.strip().lower())


class Logins:
    """One login per table per run, shared by every fetch thread; ``begin_run`` starts a new run."""

    def __init__(self, session: Any, *, anonymous: bool, lakeapi_version: str) -> None:
        self._session = session
        self._anonymous = anonymous
        self._version = lakeapi_version
        self._lock = threading.Lock()
        self._answers: dict[str, LoginAnswer] = {}
        self._client: Any = None
        self.calls = 0  # Lambda invocations made (tests)
        self.notices: list[str] = []  # one line per upgrade warning, for the faces to show

    def begin_run(self) -> None:
        """Forget the answers: the next run asks the service again (once per table)."""
        with self._lock:
            self._answers.clear()

    def answer(self, table: str) -> LoginAnswer:
        """The service's answer for ``table`` in this run (asked on first use)."""
        with self._lock:
            found = self._answers.get(table)
            if found is None:
                found = self._ask(table)
                self._answers[table] = found
                self._note(found)
            return found

    def method(self, table: str) -> TransferMethod:
        """How to download ``table``; SourceError(UPGRADE) when the service switched this lakeapi off."""
        answer = self.answer(table)
        if answer.method == TransferMethod.FORCEUPGRADE:
            raise SourceError(
                ErrorKind.UPGRADE,
                f"Crypto Lake no longer serves lakeapi {self._version} ('forceupgrade' for {table}): "
                "update rlx-tui (its lakeapi pin) and run again",
            )
        return answer.transfer

    def _note(self, answer: LoginAnswer) -> None:
        if answer.fallback:
            logger.debug(
                "login for {}: {}; downloading over S3, as lakeapi does", answer.table, answer.fallback
            )
            return
        logger.info("login for {}: method {}", answer.table, answer.method)
        if answer.method == TransferMethod.UPGRADE:
            text = (
                f"Crypto Lake says lakeapi {self._version} is outdated and might misbehave "
                "(downloads continue over S3): update rlx-tui when you can"
            )
            if text not in self.notices:
                self.notices.append(text)
                logger.warning(text)
        elif answer.method not in set(TransferMethod):
            logger.warning(
                "login for {}: unknown method {!r}, downloading over S3", answer.table, answer.method
            )

    def _lambda(self) -> Any:
        if self._client is None:
            config = botocore.config.Config(
                connect_timeout=10, read_timeout=30, retries={"total_max_attempts": 2}
            )
            self._client = uncached(self._session.client("lambda", config=config))
        return self._client

    def _ask(self, table: str) -> LoginAnswer:
        if self._anonymous:
            return LoginAnswer(table, UNKNOWN_USER, TransferMethod.S3, "anonymous access: no login")
        try:
            credentials = self._session.get_credentials()
            access_key = credentials.access_key if credentials is not None else None
            if not access_key:
                return LoginAnswer(table, UNKNOWN_USER, TransferMethod.S3, "no credentials to log in with")
            payload = login_payload(access_key, table, self._anonymous, self._version)
            self.calls += 1
            response = self._lambda().invoke(
                FunctionName=LOGIN_FUNCTION, InvocationType="RequestResponse", Payload=json.dumps(payload)
            )
            return parse_answer(table, response["Payload"].read(), response.get("FunctionError"))
        except Exception as exc:  # lakeapi: any error means 's3'
            return LoginAnswer(
                table, UNKNOWN_USER, TransferMethod.S3, f"the login call failed ({type(exc).__name__})"
            )

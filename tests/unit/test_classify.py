"""Failure classification: what is retried, what stops the run, what is reported as missing."""

from __future__ import annotations

import errno

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from rlx_tui.sources.base import ErrorKind, classify


def client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op"
    )


def hidden_in_value_error(inner: BaseException) -> ValueError:
    """What lakeapi's load_data raises on a 403: int('AccessDenied') fails while handling the ClientError."""
    try:
        try:
            raise inner
        except ClientError:
            int("AccessDenied")
    except ValueError as outer:
        return outer
    raise AssertionError("unreachable")


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (client_error("SlowDown", 503), ErrorKind.TRANSIENT),
        (client_error("503", 503), ErrorKind.TRANSIENT),
        (client_error("InternalError", 500), ErrorKind.TRANSIENT),
        (client_error("AccessDenied", 403), ErrorKind.ACCESS_DENIED),
        (client_error("SignatureDoesNotMatch", 403), ErrorKind.ACCESS_DENIED),
        (client_error("NoSuchKey", 404), ErrorKind.MISSING),
        (client_error("InvalidArgument", 400), ErrorKind.BAD_REQUEST),
        (hidden_in_value_error(client_error("AccessDenied", 403)), ErrorKind.ACCESS_DENIED),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), ErrorKind.TRANSIENT),
        (ReadTimeoutError(endpoint_url="http://127.0.0.1:1"), ErrorKind.TRANSIENT),
        (TimeoutError("stalled"), ErrorKind.TRANSIENT),
        (OSError(errno.ENOSPC, "No space left on device"), ErrorKind.DISK_FULL),
        (OSError(errno.EROFS, "Read-only file system"), ErrorKind.LOCAL_IO),
        (PermissionError(errno.EACCES, "Permission denied"), ErrorKind.LOCAL_IO),
        (ValueError("No objects to concatenate"), ErrorKind.TRANSIENT),
        (Exception("This lakeapi version is outdated. Please upgrade lakeapi"), ErrorKind.UPGRADE),
    ],
)
def test_classification(exc: BaseException, kind: ErrorKind) -> None:
    assert classify(exc, "fetching x").kind is kind


def test_only_transient_is_retried_and_only_run_wide_causes_are_fatal() -> None:
    assert [k for k in ErrorKind if k.retryable] == [ErrorKind.TRANSIENT]
    assert {k for k in ErrorKind if k.fatal} == {
        ErrorKind.ACCESS_DENIED,
        ErrorKind.DISK_FULL,
        ErrorKind.LOCAL_IO,
        ErrorKind.UPGRADE,
    }

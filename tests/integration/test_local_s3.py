"""The local S3 server behaves as stores do where it matters to the operator's cost.

S3 itself and MinIO keep a client's connection open between requests. versitygw
closes it after every answer unless told otherwise, which would make each of
the operator's reads (and each ranged GET of `modelregistry fetch`) open a new
TCP connection here and nowhere else, and every benchmark against it pay for that.
"""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

import pytest

from modelregistry.localenv import S3Server

pytestmark = pytest.mark.integration


def test_one_connection_serves_request_after_request(s3: S3Server) -> None:
    where = urlsplit(s3.endpoint_url)
    connection = http.client.HTTPConnection(where.hostname or "", where.port, timeout=10)
    try:
        statuses = []
        for _ in range(3):
            connection.request("GET", "/")  # anonymous: refused, which is an answer too
            response = connection.getresponse()
            response.read()
            statuses.append(response.status)
            assert (response.getheader("Connection") or "").lower() != "close"
            assert not response.will_close
        socket = connection.sock
        connection.request("GET", "/")
        connection.getresponse().read()
        assert connection.sock is socket  # the same connection, not a new one
    finally:
        connection.close()
    assert all(400 <= status < 500 for status in statuses), statuses

"""A real S3 protocol server for tests: moto in server mode on a free 127.0.0.1 port.

Clients reach it through the standard settings only (``AWS_ENDPOINT_URL``,
``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_DEFAULT_REGION``), as a deployment
reaches MinIO or AWS: :func:`s3_environment` sets them while the server runs.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

from orchestration.checks.scale_services import S3Server, free_port


@contextmanager
def s3_environment() -> Iterator[str]:
    """Run a moto S3 server and point the ``AWS_*`` variables at it; yields the endpoint URL.

    The variables are restored, and fsspec's cached S3 file systems forgotten, on exit.
    """
    from moto.server import ThreadedMotoServer
    from s3fs import S3FileSystem

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    settings = S3Server(endpoint_url=endpoint).environment()
    saved = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    S3FileSystem.clear_instance_cache()
    try:
        yield endpoint
    finally:
        S3FileSystem.clear_instance_cache()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        server.stop()


def make_bucket(name: str) -> None:
    """Create the bucket ``name`` on the server the ``AWS_*`` variables point at."""
    import boto3

    boto3.client("s3").create_bucket(Bucket=name)

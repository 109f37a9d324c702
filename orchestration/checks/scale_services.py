"""The servers of the deployment shape, started on 127.0.0.1 for `make test-scale`.

- :func:`postgres`: a throwaway PostgreSQL cluster (the Debian package ``postgresql``, installed
  with apt-get when ``initdb`` is missing) in a temporary folder on a free port, with the
  databases asked for; run as the ``postgres`` user when this process is root (``initdb``
  refuses root);
- :func:`s3_server`: moto's S3-compatible server (``moto[server]``) with the buckets asked for;
- :func:`dask_cluster`: ``dask scheduler`` and ``n_workers`` ``dask worker`` processes, each
  one thread, started with the environment the steps need.

Each is a context manager that stops what it started (SIGTERM to the process group it made,
then SIGKILL), also when the block raises. Nothing here is used by the pipeline itself.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class ServiceError(RuntimeError):
    """A server of the scale check could not be installed or started."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, *, proc: subprocess.Popen, what: str, log: Path, timeout_s=60.0):
    """Wait until 127.0.0.1:``port`` accepts connections; a clear error if ``proc`` died."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServiceError(f"{what} exited with {proc.returncode}: {_tail(log)}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise ServiceError(
        f"{what} did not listen on 127.0.0.1:{port} in {timeout_s:.0f} s: {_tail(log)}"
    )


def _tail(log: Path, n: int = 15) -> str:
    try:
        return "\n" + "\n".join(log.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


@contextmanager
def process(
    argv: Sequence[str], *, log: Path, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> Iterator[subprocess.Popen]:
    """A background process in its own process group, its output in ``log``; stopped on exit."""
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            list(argv),
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
        )
    try:
        yield proc
    finally:
        stop(proc)


def stop(proc: subprocess.Popen, *, grace_s: float = 15.0) -> None:
    """SIGTERM to the process group ``proc`` leads, SIGKILL after ``grace_s``."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=grace_s)
    except ProcessLookupError:
        pass


# -- PostgreSQL ----------------------------------------------------------------------------------


def postgres_bindir() -> Path:
    """The folder of ``initdb`` / ``pg_ctl``; installs the Debian package when it is missing."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        if shutil.which("apt-get") is None or os.geteuid() != 0:
            raise ServiceError(
                "PostgreSQL is not installed (no initdb): install the package `postgresql` "
                "(apt-get install -y postgresql, as root)"
            )
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for argv in (
            ["apt-get", "update", "-qq"],
            ["apt-get", "install", "-y", "-qq", "postgresql"],
        ):
            done = subprocess.run(argv, env=env, capture_output=True, text=True)
            if done.returncode != 0:
                raise ServiceError(f"{' '.join(argv)} failed: {done.stderr[-2000:]}")
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not found:
            raise ServiceError(
                "apt-get installed postgresql, but no initdb under /usr/lib/postgresql"
            )
    return Path(found[-1]).parent


@dataclass(frozen=True)
class Postgres:
    port: int
    user: str

    def url(self, database: str) -> str:
        """The SQLAlchemy URL (Dagster, MLflow) with the psycopg2 driver named: SQLAlchemy 2.1
        takes ``postgresql://`` to mean psycopg 3."""
        return f"postgresql+psycopg2://{self.user}@127.0.0.1:{self.port}/{database}"

    def dsn(self, database: str) -> str:
        """The libpq URL of ``database`` (psycopg2.connect)."""
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"


@contextmanager
def postgres(work: Path, *, databases: Sequence[str], user: str = "aco") -> Iterator[Postgres]:
    """A PostgreSQL server of its own under ``work`` (trust auth on 127.0.0.1 only)."""
    bindir = postgres_bindir()
    work.mkdir(parents=True, exist_ok=True)
    data, log = work / "pgdata", work / "postgres.log"
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb and postgres refuse to run as root
        as_user = ["runuser", "-u", "postgres", "--"]
        work.chmod(0o755)
        for parent in work.parents:  # the postgres user must reach the folder
            if parent == Path("/") or parent.stat().st_mode & 0o001:
                break
            parent.chmod(parent.stat().st_mode | 0o001)
        data.mkdir(exist_ok=True)
        shutil.chown(data, "postgres", "postgres")
        log.touch()
        shutil.chown(log, "postgres", "postgres")
    port = free_port()
    _run([*as_user, str(bindir / "initdb"), "-D", str(data), "-U", user, "--auth=trust",
          "-E", "UTF8", "--no-sync"], what="initdb")  # fmt: skip
    options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off"
    pg_ctl = [*as_user, str(bindir / "pg_ctl"), "-D", str(data)]
    _run([*pg_ctl, "-o", options, "-l", str(log), "-w", "-t", "60", "start"],
         what="pg_ctl start", log=log)  # fmt: skip
    try:
        server = Postgres(port=port, user=user)
        import psycopg2

        con = psycopg2.connect(server.dsn("postgres"), connect_timeout=10)
        con.autocommit = True
        with con.cursor() as cur:
            for name in databases:
                cur.execute(f'CREATE DATABASE "{name}"')
        con.close()
        yield server
    finally:
        subprocess.run([*pg_ctl, "-m", "fast", "-w", "-t", "60", "stop"], capture_output=True)


def _run(argv: Sequence[str], *, what: str, log: Path | None = None) -> None:
    done = subprocess.run(list(argv), capture_output=True, text=True)
    if done.returncode != 0:
        more = _tail(log) if log else ""
        raise ServiceError(f"{what} failed ({done.returncode}): {done.stdout}{done.stderr}{more}")


# -- S3 (moto) -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    access_key_id: str = "testing"
    secret_access_key: str = "testing"
    region: str = "us-east-1"

    def environment(self) -> dict[str, str]:
        """The standard variables boto3, s3fs and MLflow read."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "MLFLOW_S3_ENDPOINT_URL": self.endpoint_url,
        }

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            region_name=self.region,
        )

    def upload_tree(self, root: Path, bucket: str, prefix: str) -> int:
        """Every file under ``root`` to ``s3://bucket/prefix/<relative path>``; the count."""
        client, n = self.client(), 0
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            client.upload_file(str(path), bucket, f"{prefix}/{path.relative_to(root).as_posix()}")
            n += 1
        return n

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        pages = (
            self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        )
        return [o["Key"] for page in pages for o in page.get("Contents", [])]


@contextmanager
def s3_server(work: Path, *, buckets: Sequence[str]) -> Iterator[S3Server]:
    """moto's S3 server on a free port of 127.0.0.1, with ``buckets`` created."""
    port = free_port()
    log = work / "moto.log"
    argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with process(argv, log=log) as proc:
        wait_for_port(port, proc=proc, what="moto_server", log=log)
        server = S3Server(endpoint_url=f"http://127.0.0.1:{port}")
        for bucket in buckets:
            server.client().create_bucket(Bucket=bucket)
        yield server


# -- Dask ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DaskCluster:
    address: str
    worker_pids: tuple[int, ...]


@contextmanager
def dask_cluster(work: Path, *, n_workers: int, env: Mapping[str, str]) -> Iterator[DaskCluster]:
    """``dask scheduler`` and ``n_workers`` ``dask worker`` processes (one thread each).

    The workers run in the project folder with ``env``; they are not daemonic, so a step may
    start processes of its own.
    """
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**env, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    dask = [sys.executable, "-m", "dask"]
    with ExitStack() as stack:
        log = work / "dask-scheduler.log"
        scheduler = stack.enter_context(
            process(
                [*dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                log=log,
                env=env,
            )  # fmt: skip
        )
        wait_for_port(port, proc=scheduler, what="dask scheduler", log=log)
        for i in range(n_workers):
            stack.enter_context(
                process(
                    [
                        *dask,
                        "worker",
                        address,
                        "--nthreads",
                        "1",
                        "--nworkers",
                        "1",
                        "--name",
                        f"worker-{i}",
                        "--no-dashboard",
                        "--local-directory",
                        str(work / f"dask-worker-{i}"),
                    ],
                    log=work / f"dask-worker-{i}.log",
                    env=env,
                    cwd=PROJECT_ROOT,
                )  # fmt: skip
            )
        from dask.distributed import Client

        with Client(address, timeout=30) as client:
            client.wait_for_workers(n_workers, timeout=120)
            pids = client.run(os.getpid)
        yield DaskCluster(address=address, worker_pids=tuple(sorted(pids.values())))

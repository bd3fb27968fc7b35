"""Hostile-input benchmark: the real server (gunicorn, production settings) against
oversized and decompression-bomb bodies, with the worker's memory measured in the same run.

    .venv/bin/python benchmarks/bench_hostile.py            # SQLite in a temporary folder
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/coe_bench \
        .venv/bin/python benchmarks/bench_hostile.py

It migrates a fresh database, creates one CoE staff user with an API token, starts
``gunicorn coe.wsgi`` with one sync worker and ``DEBUG=0`` (``SECRET_KEY`` and the other
production variables set), warms the worker up with one small request of each kind, then
sends each hostile request while a thread samples the worker's RSS (``/proc``) every
2 ms. Growth is the peak during the request minus the RSS just before it. Targets (issue
12): a 10 MB CSV of one-cell rows to an upload endpoint → 413 in under 2 s with < 100 MB
growth; a ~141 KB XLSX of 1M rows → refused before parsing with < 50 MB growth; a 48 MB
anonymous JSON body to ``/api/auth/token/`` → 413 with < 20 MB growth. Figures are
printed unrounded; the exit status is non-zero when a target is missed.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
MB = 1024 * 1024
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --- hostile bodies ------------------------------------------------------------------------


def one_cell_csv(size: int) -> bytes:
    """A CSV of one-cell rows, ``size`` bytes in all."""
    header = b"value\n"
    return header + b"1\n" * ((size - len(header)) // 2)


def xlsx_bomb(rows: int, distinct: int = 50) -> bytes:
    """A valid workbook whose one sheet holds ``rows`` rows of one number each (``distinct``
    different values), compressed at level 9 by zipfile: 1M rows of 50 values are ~141 KB."""
    sheet = io.BytesIO()
    sheet.write(
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        b"<sheetData>"
    )
    sheet.write(b'<row><c t="inlineStr"><is><t>value</t></is></c></row>')
    for i in range(rows - 1):
        sheet.write(b"<row><c><v>%d</v></c></row>" % (i * 7919 % distinct))
    sheet.write(b"</sheetData></worksheet>")
    parts = {
        "[Content_Types].xml": (
            b'<?xml version="1.0" encoding="UTF-8"?>'
            b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            b'<Default Extension="rels" '
            b'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            b'<Default Extension="xml" ContentType="application/xml"/>'
            b'<Override PartName="/xl/workbook.xml" ContentType="application/'
            b'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            b'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
            b'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            b"</Types>"
        ),
        "_rels/.rels": (
            b'<?xml version="1.0" encoding="UTF-8"?>'
            b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
            b'2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            b'<?xml version="1.0" encoding="UTF-8"?>'
            b'<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            b'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            b'<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            b'<?xml version="1.0" encoding="UTF-8"?>'
            b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
            b'2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
        ),
        "xl/worksheets/sheet1.xml": sheet.getvalue(),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def multipart(field: str, filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = secrets.token_hex(16)
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
        f'filename="{filename}"\r\nContent-Type: text/csv\r\n\r\n'
    ).encode()
    return (
        head + data + f"\r\n--{boundary}--\r\n".encode(),
        f"multipart/form-data; boundary={boundary}",
    )


# --- the server ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(workdir: Path) -> dict[str, str]:
    from cryptography.fernet import Fernet

    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "COE_TESTING")}
    env.update(
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1",
        CONNECTOR_CREDENTIALS_KEYS=Fernet.generate_key().decode(),
        MEDIA_ROOT=str(workdir / "media"),
        CELERY_TASK_ALWAYS_EAGER=env.get("CELERY_TASK_ALWAYS_EAGER", "1"),
    )
    env.setdefault("DATABASE_URL", f"sqlite:///{workdir / 'bench.sqlite3'}")
    return env


def prepare(env: dict[str, str]) -> str:
    """Migrate and create the staff user; returns its API token."""
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    script = (
        "from django.contrib.auth import get_user_model\n"
        "from rest_framework.authtoken.models import Token\n"
        "from coe.services import user_set_coe_staff\n"
        "from coe.models import Factory\n"
        "User = get_user_model()\n"
        "user, _ = User.objects.get_or_create(username='bench-staff')\n"
        "user_set_coe_staff(user=user, is_staff=True)\n"
        "Factory.objects.get_or_create(slug='bench-plant', defaults={'name': 'Bench Plant'})\n"
        "print(Token.objects.get_or_create(user=user)[0].key)\n"
    )
    done = subprocess.run(
        [PYTHON, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip().splitlines()[-1]


def start_server(env: dict[str, str], port: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "gunicorn",
            "coe.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--worker-class",
            "sync",
            "--timeout",
            "120",
            "--log-level",
            "warning",
        ],  # fmt: skip
        cwd=ROOT,
        env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            status, _, _ = request(port, "GET", "/health/", b"", {})
            if status:
                return server
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("gunicorn did not start")


def worker_pid(master: int) -> int:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    if len(children) != 1:
        raise SystemExit(f"expected one gunicorn worker, found {children}")
    return int(children[0])


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise SystemExit(f"no VmRSS for {pid}")


# --- one request ---------------------------------------------------------------------------


def request(port: int, method: str, path: str, body: bytes, headers: dict[str, str]):
    """(status, response body, seconds): sends the body in chunks and stops sending as
    soon as the server answers (a server that refuses early closes the connection)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=120)
    started = time.perf_counter()
    head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    head += ["X-Forwarded-Proto: https", f"Content-Length: {len(body)}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    received = b""
    try:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        view = memoryview(body)
        sent = 0
        while sent < len(body):
            readable, writable, _ = select.select([sock], [sock], [], 120)
            if readable:
                break
            if writable:
                sent += sock.send(view[sent : sent + 256 * 1024])
    except (BrokenPipeError, ConnectionResetError):
        pass
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    elapsed = time.perf_counter() - started
    sock.close()
    if not received:
        return 0, b"", elapsed
    status = int(received.split(b" ", 2)[1])
    return status, received.split(b"\r\n\r\n", 1)[-1], elapsed


@dataclass
class Measured:
    status: int
    seconds: float
    growth: int
    body: bytes


def measured(pid: int, port: int, method: str, path: str, body: bytes, headers) -> Measured:
    before = rss(pid)
    peak = before
    stop = threading.Event()

    def sample():
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, rss(pid))
            time.sleep(0.002)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    status, response, seconds = request(port, method, path, body, headers)
    time.sleep(0.05)  # one more sample after the answer
    stop.set()
    sampler.join()
    peak = max(peak, rss(pid))
    return Measured(status, seconds, peak - before, response)


# --- the run -------------------------------------------------------------------------------


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as folder:
        workdir = Path(folder)
        env = server_env(workdir)
        token = prepare(env)
        port = free_port()
        server = start_server(env, port)
        try:
            return run(server, port, token)
        finally:
            server.terminate()
            server.wait(timeout=30)


def run(server: subprocess.Popen, port: int, token: str) -> int:
    pid = worker_pid(server.pid)
    auth = {"Authorization": f"Token {token}"}
    csv_type = {**auth, "Content-Type": "text/csv"}
    # Warm-up: every code path once with a small valid body (imports, first queries).
    small_csv = b"factory,metric,period_start,period_end,value,unit\n"
    small_csv += b"bench-plant,lead_time,2024-01-01,2024-01-02,1,h\n"
    request(port, "POST", "/api/ingest/metrics/", small_csv, csv_type)
    request(
        port, "POST", "/api/ingest/metrics/", xlsx_bomb(10), {**auth, "Content-Type": XLSX_TYPE}
    )
    body, content_type = multipart("file", "a.csv", b"factory,tool\nbench-plant,Jenkins\n")
    request(port, "POST", "/api/imports/adoptions/", body, {**auth, "Content-Type": content_type})
    login = json.dumps({"username": "nobody", "password": "x"}).encode()
    request(port, "POST", "/api/auth/token/", login, {"Content-Type": "application/json"})

    ten_mb = one_cell_csv(10 * MB + 2)
    under_limit = one_cell_csv(10 * MB - 64 * 1024)
    upload, upload_type = multipart("file", "rows.csv", ten_mb)
    bomb = xlsx_bomb(1_000_000)
    plain_xlsx = xlsx_bomb(150_000, distinct=1_000_000)  # compresses like real data
    token_body = (
        b"[" + b'"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",' * (48 * MB // 49) + b'""]'
    )
    cases = [
        (
            "10 MB CSV of one-cell rows, text/csv body to /api/ingest/metrics/",
            ("POST", "/api/ingest/metrics/", ten_mb, csv_type),
            {413}, 2.0, 100 * MB, len(ten_mb),
        ),
        (
            "10 MB CSV of one-cell rows, multipart file to /api/imports/adoptions/",
            ("POST", "/api/imports/adoptions/", upload, {**auth, "Content-Type": upload_type}),
            {413}, 2.0, 100 * MB, len(upload),
        ),
        (
            "CSV of one-cell rows just under the 10 MB limit (refused at the row limit)",
            ("POST", "/api/ingest/metrics/", under_limit, csv_type),
            {413}, 2.0, 100 * MB, len(under_limit),
        ),
        (
            "XLSX of 1,000,000 rows to /api/ingest/metrics/",
            ("POST", "/api/ingest/metrics/", bomb, {**auth, "Content-Type": XLSX_TYPE}),
            {413}, 2.0, 50 * MB, len(bomb),
        ),
        (
            "XLSX of 150,000 varied rows (ordinary compression; refused at the row limit)",
            ("POST", "/api/ingest/metrics/", plain_xlsx, {**auth, "Content-Type": XLSX_TYPE}),
            {413}, None, 100 * MB, len(plain_xlsx),
        ),
        (
            "48 MB anonymous JSON body to /api/auth/token/",
            ("POST", "/api/auth/token/", token_body, {"Content-Type": "application/json"}),
            {413}, 2.0, 20 * MB, len(token_body),
        ),
    ]  # fmt: skip
    missed = 0
    print(f"gunicorn worker pid {pid}, RSS before the run: {rss(pid)} bytes")
    for title, (method, path, body, headers), statuses, seconds, growth, size in cases:
        result = measured(pid, port, method, path, body, headers)
        in_time = seconds is None or result.seconds < seconds
        ok = result.status in statuses and in_time and result.growth < growth
        missed += not ok
        print(f"\n{title}")
        print(f"  body: {size} bytes")
        print(f"  status: {result.status} (target {sorted(statuses)})")
        print(
            f"  seconds: {result.seconds} (target {'none' if seconds is None else f'< {seconds}'})"
        )
        print(
            f"  RSS growth: {result.growth} bytes = {result.growth / MB} MB "
            f"(target < {growth // MB} MB)"
        )
        print(f"  answer: {result.body[:200].decode(errors='replace')}")
        print(f"  {'met' if ok else 'MISSED'}")
    if server.poll() is not None:
        print("the server exited during the run")
        return 1
    print(f"\n{len(cases) - missed} of {len(cases)} targets met")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())

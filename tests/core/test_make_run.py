"""`make run` on a fresh machine: the whole system comes up healthy, the printed
login works, and Ctrl-C leaves no process behind (the README's promise)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import pytest
import requests

BASE_DIR = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _processes_mentioning(text: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline", "environ"]):
        try:
            cmd = " ".join(proc.info["cmdline"] or [])
            env = proc.info["environ"] or {}
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if text in cmd or env.get("SCRM_VAR_DIR") == text:
            found.append(proc)
    return found


@pytest.mark.e2e
def test_make_run_comes_up_healthy_accepts_the_printed_login_and_stops_cleanly(tmp_path):
    # Not under pytest's own temporary folder: PostgreSQL runs as another user when the
    # tests run as root and must traverse the folders above its data, which another
    # pytest session on the machine may close again (it keeps its folder at mode 0700).
    var = tempfile.mkdtemp(prefix="scrm-make-run-")
    port, sandbox_port = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECOM_", "DJANGO_"))}
    for key in ("DATABASE_URL", "REDIS_URL", "PYTEST_XDIST_WORKER", "XDG_RUNTIME_DIR"):
        env.pop(key, None)
    env.update({"SCRM_VAR_DIR": var, "PYTHONUNBUFFERED": "1"})
    log = tmp_path / "run.log"
    proc = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "scrm.devstack",
            "run",
            "--port",
            str(port),
            "--sandbox-port",
            str(sandbox_port),
            "--web-workers",
            "1",
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        body = None
        while time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()[-3000:]
            if "Press Ctrl-C" in log.read_text():
                body = requests.get(f"{base}/healthz", timeout=5).json()
                if body["status"] == "ok":
                    break
            time.sleep(1)
        assert body is not None and body["status"] == "ok", (body, log.read_text()[-3000:])

        # The demo was made through the WeCom sandbox, so both sides agree: the
        # README's reconcile step changes nothing, and managers have tasks today.
        corp = requests.get(f"http://127.0.0.1:{sandbox_port}/sandbox/state", timeout=10).json()
        # 60 demo customers, and 4 friends who came through the referral demo's invite codes.
        assert len([f for f in corp["follows"] if f["active"]]) == 64
        assert len(corp["chats"]) == 3
        sync_env = {
            **env,
            "DATABASE_URL": f"postgres://postgres@/scrm?host={var}/pg",
            "REDIS_URL": f"unix://{var}/redis/redis.sock?db=0",
            "WECOM_API_BASE": f"http://127.0.0.1:{sandbox_port}/cgi-bin/",
            "DJANGO_SETTINGS_MODULE": "scrm.settings.dev",
        }
        sync = subprocess.run(  # noqa: S603
            [sys.executable, "manage.py", "wecom_sync", "--json"],
            cwd=BASE_DIR,
            env=sync_env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert sync.returncode == 0, sync.stderr[-2000:]
        assert json.loads(sync.stdout.strip().splitlines()[-1]) == {}, sync.stdout

        printed = log.read_text()
        match = re.search(r"^\s+(admin)\s+(\S+)\s+", printed, re.M)
        assert match, printed[-2000:]
        username, password = match.groups()
        session = requests.Session()
        login = session.get(f"{base}/admin/login/", timeout=10)
        assert login.status_code == 200
        token = session.cookies["csrftoken"]
        response = session.post(
            f"{base}/admin/login/?next=/admin/",
            data={"username": username, "password": password, "csrfmiddlewaretoken": token},
            headers={"Referer": f"{base}/admin/login/"},
            timeout=10,
        )
        assert response.status_code == 200
        assert "/admin/login/" not in response.url
        assert "运营后台" in response.text
        # D7: the demo's coupon campaign is live, ops see it, a customer's link opens it.
        campaigns = session.get(f"{base}/admin/campaigns/campaign/", timeout=10)
        assert "深圳福利群·老街火锅满减" in campaigns.text and "进行中" in campaigns.text
        assert "merchant POS key (POST /api/redemptions/): mk_" in printed, printed[-2000:]
        claim = re.search(r"a demo customer's claim link: (\S+)", printed)
        assert claim, printed[-2000:]
        page = requests.get(base + urlsplit(claim.group(1)).path, timeout=10)
        assert page.status_code == 200 and "老街火锅满 100 减 20" in page.text, page.text[:500]
        # D7, D8: the demo lottery's draw page and the referral's invite page open.
        for line, shows in (("draw link", "抽奖"), ("invite link", "邀请")):
            link = re.search(rf"a demo customer's {line}: (\S+)", printed)
            assert link, (line, printed[-2000:])
            page = requests.get(base + urlsplit(link.group(1)).path, timeout=10)
            assert page.status_code == 200 and shows in page.text, (line, page.text[:500])
        # D9-D12: the tracked fund article and the survey open; the rule's tag and the
        # fund intent level reached WeCom (mark_tag) for the customers the bank reported.
        for line, shows in (
            ("tracked fund article", "基金定投入门"),
            ("survey link", "客户兴趣小调查"),
        ):
            link = re.search(rf"a demo customer's {line}: (\S+)", printed)
            assert link, (line, printed[-2000:])
            page = requests.get(base + urlsplit(link.group(1)).path, timeout=10)
            assert page.status_code == 200 and shows in page.text, (line, page.text[:500])
        assert re.search(r"lead activation: \d+ dormant bank customers ranked, [1-9]", printed)

        def marked(name: str) -> int:
            state = requests.get(f"http://127.0.0.1:{sandbox_port}/sandbox/state", timeout=10)
            state = state.json()
            ids = {t["id"] for g in state["tag_groups"] for t in g["tag"] if t["name"] == name}
            return sum(1 for f in state["follows"] if ids & set(f.get("tag_ids") or []))

        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not (marked("关注基金") and marked("基金-高意向")):
            time.sleep(2)
        assert marked("关注基金") >= 6 and marked("基金-高意向") >= 6
        ledger = session.get(f"{base}/admin/payouts/payout/", timeout=10)
        assert ledger.status_code == 200 and "待发放" in ledger.text, ledger.text[:500]

        for manager in ("manager1", "manager2", "manager3"):
            own = requests.Session()
            own.get(f"{base}/accounts/login/", timeout=10)
            page = own.post(
                f"{base}/accounts/login/?next=/workspace/",
                data={
                    "username": manager,
                    "password": password,
                    "csrfmiddlewaretoken": own.cookies["csrftoken"],
                },
                headers={"Referer": f"{base}/accounts/login/"},
                timeout=10,
            )
            assert page.url.endswith("/workspace/"), (manager, page.url)
            assert "今天的任务都处理完了" not in page.text, manager
            assert "新好友跟进" in page.text and "群发待确认" in page.text, manager
            assert "高意向跟进" in page.text and "存量客户激活" in page.text, manager

        # Background work only takes CPU time the web processes leave idle.
        workers = [
            p for p in _processes_mentioning(var) if " -A scrm worker " in " ".join(p.cmdline())
        ]
        assert workers
        if shutil.which("chrt"):
            assert {os.sched_getscheduler(p.pid) for p in workers} == {os.SCHED_IDLE}
        else:
            assert {p.nice() for p in workers} == {19}
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
    assert proc.returncode == 0, log.read_text()[-3000:]
    time.sleep(1)
    leftovers = _processes_mentioning(var)
    for p in leftovers:  # never leave them for the next test, but fail this one
        p.kill()
    assert leftovers == [], [p.info["cmdline"] for p in leftovers]
    shutil.rmtree(var, ignore_errors=True)

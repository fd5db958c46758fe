"""How fast edm sends, against a naive smtplib loop and raw aiosmtplib, all measured in one run.

    python bench/send.py [--messages 20000] [--latency-ms 0,50] [--big 200000] [--concurrency 32]
                         [--composers N]

Starts a sink, then measures, each in a fresh process (so peak RSS is the step's own):

  (a) naive   one smtplib connection, each message built by `email.message.EmailMessage`
              (a few seconds' worth: at 50 ms a message it manages about 20 a second);
  (b) raw     aiosmtplib pushing pre-rendered bytes over `--concurrency` connections,
              the same number edm uses: the transport's ceiling;
  (c) edm     the full path on a fresh SQLite store with the customers and profiles already
              in it (not timed): plan the shipped `holiday_greeting` campaign with the planner,
              then `edm send`'s library function renders, signs links, builds the MIME, sends
              and records every row, timed from the start of planning until every row is `sent`.

The zero-latency sink is Postfix's `smtp-sink` when installed (aiosmtpd otherwise); a sink
with latency is aiosmtpd with a handler that waits that long before answering each DATA.
Goals (issue 24): (c)/(b) >= 0.9 at zero latency, (c)'s CPU a message <= 1.3x (b)'s, the
whole sending process tree's peak memory <= 150 MB at `--big` recipients, judged twice: RSS
summed over the sender and its forked composers (which counts the pages they share once per
process) and PSS summed (each shared page shared out); and (c)/(a) >= 20 at 50 ms.

Each step also reports the CPU its processes spent (edm's composers counted): on a machine
shared with other work the rates move from run to run, the CPU a message costs much less.

Never part of the test suite: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import secrets
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the edm of this tree, wherever it is installed

import aiosmtplib
from pydantic import SecretStr
from sqlalchemy import func, insert, select

from edm.campaigns.loader import load_campaigns
from edm.campaigns.planner import plan_campaign
from edm.clock import SystemClock
from edm.config import Settings, SmtpSettings
from edm.delivery.sender import Until
from edm.resources import bundled_config_dir
from edm.runner import send_pending
from edm.store import Customer, CustomerProfile, OutboxMessage, create_schema, make_engine, session_factory

CAMPAIGN = "holiday_greeting"
SENDER = "care@example.com"
RATE_GOAL = 0.9  # issue 24: (c)/(b) at 0 ms
CPU_GOAL = 1.3  # issue 24: (c)'s CPU a message / (b)'s
RSS_GOAL_MB = 150  # issue 24: the whole sending process tree at --big recipients
NAIVE_SECONDS = 8.0  # (a) runs this long at most: at 50 ms a message 20 000 would take 17 minutes
POPULATE_CHUNK = 10_000
SURNAMES = ("王", "李", "张", "刘", "陈", "Smith", "Brown", "Lee", "Tan", "García")
GIVEN = ("芳", "伟", "娜", "敏", "静", "Ann", "Bo", "Chen", "Mei", "Lucy")
LOCALES = (("zh-CN", "Asia/Shanghai"), ("en-US", "America/New_York"), ("zh-TW", "Asia/Taipei"),
           ("en-GB", "Europe/London"))
DOMAINS = ("example.com", "example.net", "example.org", "example.cn")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--latency-ms", default="0,50", help="comma-separated sink latencies")
    parser.add_argument("--big", type=int, default=200_000, help="recipients for the memory run (0: skip)")
    parser.add_argument("--concurrency", type=int, default=32, help="SMTP connections for (b) and (c)")
    parser.add_argument("--composers", type=int, help="smtp.compose_processes for (c) (default: edm's; "
                                                        "0: composed in a thread of the sender)")
    parser.add_argument("--only", default="abc", help="which of a, b, c to run")
    parser.add_argument("--sink", type=int, help=argparse.SUPPRESS)  # run an aiosmtpd sink on this port
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--args", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sink:
        _serve_sink(args.sink, float(args.latency_ms) / 1000)
        return
    if args.step:
        print(json.dumps(STEPS[args.step](json.loads(args.args))))
        return
    latencies = [int(v) for v in args.latency_ms.split(",") if v.strip()]
    with tempfile.TemporaryDirectory() as folder:
        run(Path(folder), args, latencies)


def run(folder: Path, args: argparse.Namespace, latencies: list[int]) -> None:
    common = {"messages": args.messages, "concurrency": args.concurrency, "composers": args.composers}
    sample = _step("sample", {"db": str(folder / "sample.db"), "out": str(folder / "sample.json")})
    print(f"one message of {CAMPAIGN}: {sample['bytes']:,} bytes; concurrency {args.concurrency}")
    results: dict[tuple[str, int], dict[str, Any]] = {}
    db = folder / f"edm-{args.messages}.db"
    for latency in latencies:
        with sink(latency) as (port, kind):
            print(f"\nsink: {kind}, {latency} ms a message, port {port}")
            base = {**common, "port": port, "sample": str(folder / "sample.json")}
            if "a" in args.only:
                results["a", latency] = _report("(a) naive", _step("naive", {**base, "latency": latency}))
            if "b" in args.only:
                results["b", latency] = _report("(b) raw", _step("raw", base))
            if "c" in args.only:
                shutil.copy(_populated(folder, args.messages), db)
                results["c", latency] = _report("(c) edm", _step("edm", {**base, "db": str(db)}))
    big = None
    if args.big and "c" in args.only:
        with sink(0) as (port, kind):
            print(f"\nmemory run: {args.big:,} recipients, sink {kind}")
            target = folder / f"edm-{args.big}.db"
            shutil.copy(_populated(folder, args.big), target)
            big = _report("(c) edm", _step("edm", {**common, "messages": args.big, "port": port,
                                                   "db": str(target)}))
    _table(results, latencies, args, big)


def _report(name: str, result: dict[str, Any]) -> dict[str, Any]:
    extra = f", planning {result['plan_seconds']:.1f} s" if "plan_seconds" in result else ""
    extra += f", CPU {result['cpu_own']:.1f} s" + (
        f" + {result['cpu_children']:.1f} s in composers" if result["cpu_children"] else "")
    print(f"  {name:10} {result['sent']:>8,} messages in {result['seconds']:6.1f} s = "
          f"{result['sent'] / result['seconds']:>7,.0f}/s{extra}, peak RSS {result['rss_mb']:,.0f} MB")
    return result


def _table(results: dict[tuple[str, int], dict[str, Any]], latencies: list[int], args: argparse.Namespace,
           big: dict[str, Any] | None) -> None:
    def rate(kind: str, latency: int) -> float | None:
        result = results.get((kind, latency))
        return result["sent"] / result["seconds"] if result else None

    def cpu_per_message(kind: str, latency: int) -> float | None:
        result = results.get((kind, latency))
        return (result["cpu_own"] + result["cpu_children"]) / result["sent"] * 1e6 if result else None

    print(f"\nmessages/s ({args.messages:,} messages, {args.concurrency} connections)")
    print(f"{'':34}" + "".join(f"{f'{latency} ms':>12}" for latency in latencies))
    for kind, name in (("a", "(a) naive smtplib + EmailMessage"), ("b", "(b) raw aiosmtplib, bytes"),
                       ("c", "(c) edm: plan, render, send")):
        cells = [rate(kind, latency) for latency in latencies]
        print(f"{name:34}" + "".join(f"{c:>12,.0f}" if c else f"{'-':>12}" for c in cells))
    print("CPU µs a message (our processes, not the sink; steadier than the rates on a busy machine)")
    for kind in "abc":
        cells = [cpu_per_message(kind, latency) for latency in latencies]
        print(f"{'  (' + kind + ')':34}" + "".join(f"{c:>12,.0f}" if c else f"{'-':>12}" for c in cells))
    for numerator, denominator, latency, goal in (("c", "b", 0, RATE_GOAL), ("c", "a", 50, 20.0)):
        top, bottom = rate(numerator, latency), rate(denominator, latency)
        if top and bottom:
            print(f"({numerator})/({denominator}) at {latency} ms = {top / bottom:.2f} (goal >= {goal:g}): "
                  f"{_verdict(top / bottom >= goal)}")
    edm_cpu, raw_cpu = cpu_per_message("c", 0), cpu_per_message("b", 0)
    if edm_cpu and raw_cpu:
        print(f"CPU a message (c)/(b) at 0 ms = {edm_cpu / raw_cpu:.2f} (goal <= {CPU_GOAL:g}): "
              f"{_verdict(edm_cpu / raw_cpu <= CPU_GOAL)}")
    small = results.get(("c", 0))
    if big and small:
        ratio = big["tree_rss_mb"] / small["tree_rss_mb"]
        print(f"sending process tree, peak RSS summed (PSS): {small['tree_rss_mb']:,.0f} MB "
              f"({small['tree_pss_mb']:,.0f}) at {small['sent']:,}, {big['tree_rss_mb']:,.0f} MB "
              f"({big['tree_pss_mb']:,.0f}) at {big['sent']:,} = {ratio:.2f}x; "
              f"{big['sent'] / big['seconds']:,.0f}/s")
        for name, key in (("RSS summed", "tree_rss_mb"), ("PSS summed", "tree_pss_mb")):
            print(f"sending process tree at {big['sent']:,} recipients, {name} = {big[key]:,.0f} MB "
                  f"(goal <= {RSS_GOAL_MB} MB): {_verdict(big[key] <= RSS_GOAL_MB)}")


def _verdict(met: bool) -> str:
    return "met" if met else "NOT MET"


# ---- the sinks -----------------------------------------------------------------------------------

@contextmanager
def sink(latency_ms: int) -> Iterator[tuple[int, str]]:
    """A running SMTP sink for the block: Postfix's smtp-sink when it fits, else aiosmtpd."""
    port = _free_port()
    binary = shutil.which("smtp-sink") or next(
        (p for p in ("/usr/sbin/smtp-sink", "/usr/lib/postfix/smtp-sink") if os.access(p, os.X_OK)), None)
    if latency_ms == 0 and binary:
        user = ["-u", "nobody"] if os.geteuid() == 0 else []
        command, kind = [binary, *user, f"127.0.0.1:{port}", "1000"], "smtp-sink"
    else:
        command = [sys.executable, __file__, "--sink", str(port), "--latency-ms", str(latency_ms)]
        kind = "aiosmtpd"
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    try:
        _wait_for(port, process)
        yield port, kind
    finally:
        process.terminate()
        process.wait(10)


def _serve_sink(port: int, latency: float) -> None:
    from aiosmtpd.controller import Controller

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            if latency:
                await asyncio.sleep(latency)
            return "250 2.0.0 Ok: queued"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port, ready_timeout=30)
    controller.start()
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_for(port: int, process: subprocess.Popen[bytes]) -> None:
    give_up = time.monotonic() + 30
    while time.monotonic() < give_up:
        if process.poll() is not None:
            raise RuntimeError(f"the sink exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
                if connection.recv(100).startswith(b"220"):
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the sink did not answer within 30 s")


# ---- the steps, each in its own process ----------------------------------------------------------

def _step(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """Run one step in a fresh interpreter (no caches carried over), sampling its process tree's
    memory: the peak of the RSS summed over it and its children (the composers), and of the PSS
    (shared pages shared out, so forked composers are not counted twice)."""
    command = [sys.executable, __file__, "--step", name, "--args", json.dumps(arguments)]
    with tempfile.TemporaryFile("w+") as out:
        process = subprocess.Popen(command, stdout=out)
        rss = pss = 0.0
        while process.poll() is None:
            now_rss, now_pss = _tree_memory(process.pid)
            rss, pss = max(rss, now_rss), max(pss, now_pss)
            time.sleep(0.05)
        if process.returncode:
            raise subprocess.CalledProcessError(process.returncode, command)
        out.seek(0)
        result: dict[str, Any] = json.loads(out.read().strip().splitlines()[-1])
    # /proc's kB are KiB; the goal's MB are decimal megabytes
    return {**result, "tree_rss_mb": rss * 1024 / 1e6, "tree_pss_mb": pss * 1024 / 1e6}


def _tree_memory(pid: int) -> tuple[float, float]:
    """RSS and PSS (KiB) of a process and its descendants, from /proc (0 where it is gone)."""
    rss = pss = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            for line in Path(f"/proc/{current}/smaps_rollup").read_text().splitlines():
                if line.startswith(("Rss:", "Pss:")):
                    kib = float(line.split()[1])
                    rss, pss = (rss + kib, pss) if line.startswith("Rss:") else (rss, pss + kib)
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return rss, pss


def _sample(arguments: dict[str, Any]) -> dict[str, Any]:
    """One real edm message of the campaign: its bytes for (b), its subject and parts for (a)."""
    from edm.delivery.compose import Composer
    from edm.render import Renderer
    from edm.tracking import TrackingLinks

    settings = _settings(arguments["db"], 25, 8)
    engine = make_engine(settings.database_url)
    create_schema(engine)
    _populate(arguments["db"], 1)
    campaign = _campaigns()[CAMPAIGN]
    now = SystemClock().now()
    with session_factory(engine)() as session:
        customer, profile = session.execute(select(Customer, CustomerProfile).join(CustomerProfile)).one()
    row = OutboxMessage(id=1, key="k" * 64, campaign=CAMPAIGN, step=0, customer_id=customer.id,
                        occurrence=now.date(), to_address=customer.email, variant=None)
    composer = Composer(Renderer(), TrackingLinks(settings.tracking.base_url, settings.signing_keys()),
                        settings.sender)
    composed = composer.compose(row, customer, profile, campaign, now)
    parsed = message_from_bytes(composed.data, policy=default)
    assert isinstance(parsed, EmailMessage)
    html, text = parsed.get_body(("html",)), parsed.get_body(("plain",))
    assert isinstance(html, EmailMessage) and isinstance(text, EmailMessage)
    Path(arguments["out"]).write_text(json.dumps({
        "data": composed.data.decode("ascii"), "subject": composed.subject,
        "html": html.get_content(), "text": text.get_content(),
    }))
    return {"bytes": len(composed.data)}


def _naive(arguments: dict[str, Any]) -> dict[str, Any]:
    """(a): the loop a developer writes first: EmailMessage per mail, smtplib, one connection."""
    sample = json.loads(Path(arguments["sample"]).read_text())
    budget = NAIVE_SECONDS
    cpu, started = _cpu(), time.perf_counter()
    sent = 0
    with smtplib.SMTP("127.0.0.1", arguments["port"]) as smtp:
        for number in range(arguments["messages"]):
            message = EmailMessage()
            message["From"] = "Customer Care <care@example.com>"
            message["To"] = f"王芳 <customer{number}@example.com>"
            message["Subject"] = sample["subject"]
            message["Date"] = format_datetime(datetime.now(UTC))
            message["Message-ID"] = make_msgid(domain="example.com")
            message["List-Unsubscribe"] = f"<http://127.0.0.1:8080/u/{number}>"
            message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
            message.set_content(sample["text"])
            message.add_alternative(sample["html"], subtype="html")
            smtp.send_message(message)
            sent += 1
            if time.perf_counter() - started > budget:
                break
    return _measured(sent, started, cpu)


def _raw(arguments: dict[str, Any]) -> dict[str, Any]:
    """(b): pre-rendered bytes over `concurrency` aiosmtplib connections; nothing else."""
    data = json.loads(Path(arguments["sample"]).read_text())["data"].encode("ascii")
    total, connections = arguments["messages"], arguments["concurrency"]

    async def push() -> int:
        numbers = iter(range(total))

        async def one_connection() -> int:
            client = aiosmtplib.SMTP(hostname="127.0.0.1", port=arguments["port"], timeout=60)
            await client.connect()
            sent = 0
            for number in numbers:
                await client.sendmail(SENDER, [f"customer{number}@example.com"], data)
                sent += 1
            await client.quit()
            return sent

        return sum(await asyncio.gather(*(one_connection() for _ in range(connections))))

    cpu, started = _cpu(), time.perf_counter()
    sent = asyncio.run(push())
    return _measured(sent, started, cpu)


def _edm(arguments: dict[str, Any]) -> dict[str, Any]:
    """(c): plan the campaign, then send until the outbox is drained, as `edm send` does."""
    settings = _settings(arguments["db"], arguments["port"], arguments["concurrency"], arguments["composers"])
    sessions = session_factory(make_engine(settings.database_url))
    campaigns = _campaigns()
    clock = SystemClock()
    cpu, started = _cpu(), time.perf_counter()
    now = clock.now()
    plan = plan_campaign(sessions, campaigns[CAMPAIGN], occurrence=now.date(), now=now,
                         rules=settings.engagement, policy=settings.policy)
    planned = time.perf_counter()
    summary = asyncio.run(send_pending(settings, sessions, clock, campaigns, until=Until.DRAINED))
    measured = _measured(summary.sent, started, cpu)
    with sessions() as session:
        states = dict(session.execute(
            select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)).all())
    if plan.queued != arguments["messages"] or states != {"sent": plan.queued}:
        raise SystemExit(f"not all sent: planned {plan.queued} of {arguments['messages']}, states {states}")
    return {**measured, "plan_seconds": planned - started}


def _cpu() -> tuple[float, float]:
    """CPU seconds of this process, and of its ended children (the composers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def _measured(sent: int, started: float, cpu: tuple[float, float]) -> dict[str, Any]:
    """The rate, peak RSS, and CPU seconds spent since `cpu` was read (where the time goes)."""
    seconds = time.perf_counter() - started
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    spent = _cpu()
    return {"sent": sent, "seconds": seconds,
            "rss_mb": (own.ru_maxrss + children.ru_maxrss) / 1024,  # the largest child, if any
            "cpu_own": spent[0] - cpu[0], "cpu_children": spent[1] - cpu[1]}


# ---- the store -----------------------------------------------------------------------------------

def _settings(db: str, port: int, concurrency: int, composers: int | None = None) -> Settings:
    return Settings(
        database_url=f"sqlite:///{db}",
        smtp=SmtpSettings(port=port, concurrency=concurrency, timeout_seconds=60,
                          **({} if composers is None else {"compose_processes": composers})),
        secret_keys=(SecretStr(secrets.token_urlsafe(32)),),
    )


def _campaigns() -> dict[str, Any]:
    return {name: f.campaign for name, f in load_campaigns(bundled_config_dir() / "campaigns").items()}


def _populated(folder: Path, customers: int) -> Path:
    """A store with `customers` customers in the campaign's audience, made once per size."""
    path = folder / f"population-{customers}.db"
    if not path.exists():
        _step("populate", {"db": str(path), "customers": customers})
    return path


def _populate_step(arguments: dict[str, Any]) -> dict[str, Any]:
    engine = make_engine(f"sqlite:///{arguments['db']}")
    create_schema(engine)
    engine.dispose()
    _populate(arguments["db"], arguments["customers"])
    return {"customers": arguments["customers"]}


def _populate(db: str, customers: int) -> None:
    """Customers in the campaign's audience (high or medium value, mature), half of them Chinese."""
    engine = make_engine(f"sqlite:///{db}")
    rng = random.Random(0)
    now = datetime.now(UTC)
    first = datetime(2020, 1, 1, tzinfo=UTC)
    with engine.begin() as connection:
        for start in range(0, customers, POPULATE_CHUNK):
            numbers = range(start, min(start + POPULATE_CHUNK, customers))
            rows = []
            for number in numbers:
                locale, timezone = LOCALES[number % len(LOCALES)]
                person = rng.choice(SURNAMES) + rng.choice(GIVEN)
                rows.append({
                    "id": number + 1, "external_id": f"C{number:08d}", "name": f"{person} {number}",
                    "email": f"customer{number}@{DOMAINS[number % len(DOMAINS)]}",
                    "kind": "person", "contact_name": None, "locale": locale, "timezone": timezone,
                    "created_at": first,
                })
            connection.execute(insert(Customer), rows)
            connection.execute(insert(CustomerProfile), [
                {"customer_id": number + 1, "value_tier": ("high", "medium")[number % 2],
                 "lifecycle_stage": "mature", "order_count": 10 + number % 40,
                 "revenue": Decimal("12000.00"), "first_order_at": first, "last_order_at": now,
                 "computed_at": now} for number in numbers
            ])
    engine.dispose()


STEPS = {"sample": _sample, "naive": _naive, "raw": _raw, "edm": _edm, "populate": _populate_step}

if __name__ == "__main__":
    main()

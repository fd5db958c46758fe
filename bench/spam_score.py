"""Measure: the demo's mail as SpamAssassin 4 scores it, local rules only (as issue 19 measured).

    python bench/spam_score.py                 # edm demo in a temporary folder, then score its mail
    python bench/spam_score.py --dir /tmp/d    # keep the demo folder
    python bench/spam_score.py --mail /tmp/d/mail  # score .eml files already there

Every .eml in the demo's mail/ folder (campaign mail and the account managers' digests) is scored
by a spamd started here (`--local`, no Bayes, no user preferences; a `spamassassin` process per
message takes a second to load its rules). Prints the median, the maximum, how many score above 2,
the rules that fired and how often, and whether the goal (every message <= 1.0) is met. Needs
Debian's spamassassin, spamd and spamc (`apt-get install spamassassin spamd spamc`).
"""

from __future__ import annotations

import argparse
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

GOAL = 1.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_spamd(home: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    process = subprocess.Popen(
        ["spamd", f"--listen=127.0.0.1:{port}", "--local", "--nouser-config", "--max-children=2",
         "--min-children=2", "--syslog=stderr", f"--helper-home-dir={home}", "--cf=use_bayes 0",
         "--cf=bayes_auto_learn 0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while subprocess.run(["spamc", "-d", "127.0.0.1", "-p", str(port), "-K"], capture_output=True).returncode:
        if process.poll() is not None or time.monotonic() > deadline:
            sys.exit("spamd did not start")
        time.sleep(0.2)
    return process, port


def score(port: int, path: Path) -> tuple[str, float, list[str]]:
    answer = subprocess.run(["spamc", "-d", "127.0.0.1", "-p", str(port), "-x", "-R", "-t", "60"],
                            input=path.read_bytes(), capture_output=True, check=True)
    report = answer.stdout.decode("utf-8", "replace")
    details = report.partition("Content analysis details:")[2]
    rules = re.findall(r"^\s*(-?\d+(?:\.\d+)?)\s+([A-Z][A-Z0-9_]+)\s", details, flags=re.MULTILINE)
    return path.name, float(report.split("/", 1)[0]), [f"{name}({points})" for points, name in rules]


def run_demo(folder: Path, customers: int) -> Path:
    command = [sys.executable, "-c", "from edm.cli import main; main()", "demo", "--dir", str(folder),
               "--customers", str(customers)]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return folder / "mail"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, help="run the demo in this folder (default: a temporary one)")
    parser.add_argument("--mail", type=Path, help="score the .eml files here instead of running the demo")
    parser.add_argument("--customers", type=int, default=360)
    args = parser.parse_args()
    if not (shutil.which("spamd") and shutil.which("spamc")):
        sys.exit("needs SpamAssassin's spamd and spamc: apt-get install spamassassin spamd spamc")
    with tempfile.TemporaryDirectory() as scratch:
        mail = args.mail or run_demo(args.dir or Path(scratch) / "demo", args.customers)
        files = sorted(mail.glob("*.eml"))
        if not files:
            sys.exit(f"no .eml files in {mail}")
        process, port = start_spamd(Path(scratch))
        try:
            with ThreadPoolExecutor(max_workers=4) as pool:
                results = list(pool.map(lambda path: score(port, path), files))
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=10)
    scores = [points for _, points, _ in results]
    fired = Counter(rule.partition("(")[0] for _, _, rules in results for rule in rules)
    print(f"{len(results)} messages from {mail}")
    print(f"median {statistics.median(scores):.1f}, max {max(scores):.1f}, "
          f"above 2: {sum(s > 2 for s in scores)}, above {GOAL}: {sum(s > GOAL for s in scores)}")
    print("rules fired: " + ", ".join(f"{rule} x{count}" for rule, count in fired.most_common()))
    for name, points, rules in sorted(results, key=lambda r: -r[1])[:5]:
        print(f"  {points:4.1f} {name}: {' '.join(rules)}")
    print(f"goal <= {GOAL}: {'met' if max(scores) <= GOAL else 'not met'}")


if __name__ == "__main__":
    main()

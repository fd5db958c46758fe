"""`edm daemon`: scheduled planning, reclassification, bounce polling and reports, under one leader."""

from edm.daemon.leader import LeaderLock, leader_lock
from edm.daemon.service import run_daemon
from edm.daemon.workers import worker_command

__all__ = ["LeaderLock", "leader_lock", "run_daemon", "worker_command"]

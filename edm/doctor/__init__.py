"""`edm doctor`: will mailbox providers accept our mail? DNS, relay, the message as built, rates.

Pure judges over plain data (`spf.py`, `dkim_key.py`, `dmarc.py`, `identity.py`, `sample.py`'s
header checks, `rates.judge_rates`) and I/O at the edges (`resolver.py` DNS, `relay.py` SMTP,
`rates.py` SQL); `run.py` puts them together into `report.Check` rows, `gate.py` keeps bulk
sending from starting while DNS or identity has an ERROR.
"""

"""Double opt-in sign-up: the hosted form and the embeddable one, bots kept out, the confirmation
mail with its signed link, confirming once, and expiry of what was never confirmed (docs/signup.md).

`signups.py` is the store side (submit, confirm, expire), `mail.py` the confirmation mail,
`routes.py` the tracking server's `/signup` routes over `pages.py`, `guard.py` the bot and rate
checks, `tokens.py` the signed form and confirm tokens, `snippet.py` the form to embed elsewhere.
"""

"""The sign-up form to paste into another site: `edm signup snippet [--lang ...]`.

Self-contained: inline minimal CSS (scoped to the form's class), no external resources, a plain
form POST to the tracking server's `/signup` (a form post needs no CORS). An embedded form cannot
carry a token the server issued when the page was shown, so a tiny inline script writes the time
the page loaded into `started`; the server takes it as the fill time's start (`form=embed`). A
client's word is weaker than a signed token, and a browser without JavaScript posts no start and
is dropped as a bot (docs/signup.md). The honeypot and the per-address rate hold as for the hosted form.
"""

from __future__ import annotations

from html import escape

from edm.signup.pages import FORM_STYLE, TEXT, SignupTexts, form_fields
from edm.tracking.pages import Language

START_SCRIPT = (
    "(function(){var f=document.currentScript&&document.currentScript.previousElementSibling;"
    "if(f&&f.elements&&f.elements.started){f.elements.started.value=String(Date.now());}})();"
)


def snippet(texts: SignupTexts, language: Language, base_url: str) -> str:
    """The form's HTML, posting to `base_url`/signup."""
    action = f"{base_url.rstrip('/')}/signup"
    return (
        f"<!-- {escape(texts.company(language))}: sign-up form (edm). Posts to {escape(action)} -->\n"
        f"<style>{FORM_STYLE}</style>\n"
        f'<form class="edm-signup" method="post" action="{escape(action)}" lang="{language}" '
        f'accept-charset="utf-8">'
        f"<p><strong>{escape(TEXT[language]['intro'].format(company=texts.company(language)))}</strong></p>"
        f'<input type="hidden" name="form" value="embed"><input type="hidden" name="started" value="">'
        f"{form_fields(texts, language)}</form>"
        f"<script>{START_SCRIPT}</script>\n"
    )

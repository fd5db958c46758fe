"""Which language's text of a `brand:` setting a message shows (`edm.delivery.brand.localized`)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from edm.delivery.brand import localized
from edm.render import language_chain

LANGUAGE_TAGS = st.sampled_from(["en", "zh-Hans", "zh-Hant", "zh", "fr", "zh-HK", "zh-CN", "en-GB", "xx"])
TEXTS = st.dictionaries(LANGUAGE_TAGS, st.text(min_size=1, max_size=8).filter(str.strip), max_size=4)


@settings(derandomize=True, max_examples=300)
@given(TEXTS, LANGUAGE_TAGS)
def test_the_text_comes_from_the_languages_chain_or_for_names_any_language(
    texts: dict[str, str], language: str
) -> None:
    by_lower = {key.lower(): text.strip() for key, text in texts.items()}
    chain = [lang for lang in language_chain(language) if lang in by_lower]
    wording = localized(texts, language)
    name = localized(texts, language, any_language=True)
    assert wording == (by_lower[chain[0]] if chain else None)  # wording: only its own chain
    assert name == (wording if chain else next(iter(by_lower.values()), None))  # a name: any beats none


def test_one_text_serves_every_language() -> None:
    assert localized("  Acme  ", "zh-Hant") == "Acme"
    assert localized("", "en") is None and localized({}, "en", any_language=True) is None

"""Render a campaign's every message before anything is queued, so template errors never reach the outbox.

Each template (the campaign's, each variant's, each follow-up's) is composed for sample
customers in every language the template ships and in en, zh-Hans and zh-Hant, each step
and variant, and every subject of each is rendered with the same values. It goes through
the `Composer` and sandboxed `Renderer` that sending uses, so the check and the send
cannot disagree: an undefined name, a syntax error, an unknown filter, a sandbox
violation, a missing include or a link the campaign does not define is a `Problem`.

The samples are a synthetic company and a synthetic person per language (`synthetic_samples`),
the company again with personalisation turned off (`generic_samples`: the generic message a
person who chose "no personalisation" gets must render too), plus any real customers the caller
adds. A `topic` not among the `topics` given is a problem of the file's `topic` key.
Pure apart from rendering: no store, no clock.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from edm.campaigns.direct import SampleData
from edm.campaigns.schema import Campaign
from edm.config import BrandSettings, SenderSettings
from edm.delivery.brand import PLACEHOLDER_COMPANY, company_name, has_postal_address
from edm.delivery.compose import Composer, CustomerFields, ProfileFields
from edm.delivery.sender import CustomerRow, OutboxRow, ProfileRow
from edm.errors import TemplateError
from edm.render import RenderedBody, Renderer, RenderError, template_languages
from edm.tracking import TrackingLinks

LANGUAGES = ("en", "zh-Hans", "zh-Hant")  # every campaign is checked in these, whatever its template ships
_CHECK_URL = "https://check.invalid"  # links are signed by a throwaway key and go nowhere

Field = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One thing to fix. `field` is the campaign key to fix (a subject), else None and `where`
    names the template file and line; `sample` names the real customer it showed with, if any."""

    where: str
    message: str
    field: Field | None = None
    sample: str | None = None

    def __str__(self) -> str:
        shown = f"{self.where}: {self.message}" if self.where else self.message
        return shown + (f" (with {self.sample})" if self.sample else "")


@dataclass(frozen=True)
class Sample:
    """A customer to compose for; `label` is None for a synthetic one, else how to name the real one."""

    customer: CustomerFields
    profile: ProfileFields | None
    email: str
    label: str | None = None


_NAMES = {  # (company, its contact, a person) per language
    "en": ("Example Trading Ltd", "Alex Chen", "Jordan Lee"),
    "zh-Hans": ("示例贸易有限公司", "陈先生", "李小龙"),
    "zh-Hant": ("範例貿易有限公司", "陳先生", "李小龍"),
}


def synthetic_samples(languages: Sequence[str], now: datetime) -> list[Sample]:
    """A long-standing company with a contact and an account manager, and a new private buyer,
    for each of `languages` (used as the customer's locale)."""
    samples = []
    for n, language in enumerate(languages):
        company, contact, person = _NAMES.get(language, _NAMES["en"])
        samples.append(Sample(
            CustomerRow(-2 * n - 1, company, contact, "company", "retail", language,
                           "Sam Wong", "sam.wong@example.com"),
            ProfileRow("high", "mature", 24, "paper, ink", now - timedelta(days=3 * 365 + 10),
                          now - timedelta(days=45), 30.0, now - timedelta(days=15)),
            "alex.chen@example.com",
        ))
        samples.append(Sample(
            CustomerRow(-2 * n - 2, person, None, "person", None, language, None, None),
            ProfileRow("low", "new", 1, None, now - timedelta(days=5), now - timedelta(days=5),
                          None, None),
            "jordan.lee@example.com",
        ))
    return samples


GENERIC_LABEL = "a customer who chose no personalisation"


def generic_samples(languages: Sequence[str], now: datetime) -> list[Sample]:
    """The synthetic company of each language with personalisation turned off (PIPL Art. 24)."""
    return [Sample(sample.customer._replace(personalised=False), sample.profile, sample.email, GENERIC_LABEL)
            for sample in synthetic_samples(languages, now)[::2]
            if isinstance(sample.customer, CustomerRow)]


class Checker:
    """Composes like the sender (`Composer` over a `Renderer` of `templates_dir`); keep one for a run:
    it keeps the compiled templates. `topics`: the topic names a campaign may name (settings
    `topics`); None checks no topic."""

    def __init__(
        self, templates_dir: Path | None = None, sender: SenderSettings | None = None,
        brand: BrandSettings | None = None, topics: Collection[str] | None = None,
    ) -> None:
        self._topics = None if topics is None else frozenset(topics)
        self._probe = _SubjectProbe(templates_dir)
        self._brand = brand or BrandSettings()
        self._composer = Composer(
            self._probe, TrackingLinks(_CHECK_URL, [secrets.token_bytes(32)]),
            _without_dkim(sender or SenderSettings()), brand=brand,
        )

    def check(self, campaign: Campaign, samples: Sequence[Sample], now: datetime) -> list[Problem]:
        """Every problem composing `campaign` for the synthetic samples and `samples` shows, each once."""
        found: dict[tuple[str, str], Problem] = {}
        if self._topics is not None and campaign.topic is not None and campaign.topic not in self._topics:
            known = ", ".join(sorted(self._topics)) or "none: add topics: to edm.yaml"
            message = f"no topic {campaign.topic!r} in edm.yaml (topics: {known})"
            found[("topic", message)] = Problem("topic", message, ("topic",))
        for step, variant, template, subjects, prefix in _contents(campaign):
            try:
                shipped = template_languages(template, self._probe.templates_dir)
            except TemplateError as exc:
                found.setdefault(("", str(exc)), Problem("", str(exc)))
                continue
            languages = list(dict.fromkeys([*LANGUAGES, *shipped]))
            self._probe.subjects = {(*prefix, "subject", lang): source for lang, source in subjects.items()}
            for sample in [*synthetic_samples(languages, now), *generic_samples(languages, now), *samples]:
                for problem in _compose(self._composer, self._probe, campaign, sample, step, variant, now):
                    found.setdefault((problem.where, problem.message), problem)
        return list(found.values())


    def warnings(self, campaign: Campaign) -> list[str]:
        """What may send `campaign` but should be fixed: marketing mail without the sender's postal
        address (CAN-SPAM) or still under the placeholder company name `edm init` wrote."""
        if campaign.kind != "marketing":
            return []
        found = []
        if not has_postal_address(self._brand):
            found.append("marketing mail without a postal address (CAN-SPAM requires one): "
                         "set brand.postal_address in edm.yaml")
        if company_name(self._brand, "") == PLACEHOLDER_COMPANY:
            found.append(f"the company is still the placeholder {PLACEHOLDER_COMPANY!r}: "
                         "set brand.company in edm.yaml")
        return found


def check_campaign(
    campaign: Campaign, samples: Sequence[Sample] = (), *, now: datetime, checker: Checker | None = None
) -> list[Problem]:
    """`Checker.check` with the shipped templates, for one campaign."""
    return (checker or Checker()).check(campaign, samples, now)


def _contents(campaign: Campaign) -> Iterator[tuple[int, str | None, str, Mapping[str, str], Field]]:
    """(step, variant, template, subjects, where the subjects are written) of every message it can send."""
    arms: list[str | None] = [v.name for v in campaign.variants] or [None]
    for variant in arms:
        template, subjects = campaign.content(variant, 0)
        position = next((n for n, v in enumerate(campaign.variants) if v.name == variant), None)
        own = position is not None and campaign.variants[position].subject is not None
        yield 0, variant, template, subjects, ("variants", position) if own and position is not None else ()
    for n, follow_up in enumerate(campaign.follow_ups):
        template, subjects = campaign.content(None, n + 1)
        yield n + 1, None, template, subjects, ("follow_ups", n) if follow_up.subject is not None else ()


def _compose(
    composer: Composer, probe: _SubjectProbe, campaign: Campaign, sample: Sample, step: int,
    variant: str | None, now: datetime,
) -> list[Problem]:
    row = OutboxRow(0, f"check-{campaign.name}", campaign.name, step, variant, sample.email, now.date())
    probe.failures, probe.context = [], None
    try:
        data = SampleData() if campaign.api else None  # an API call brings its own data
        composer.compose(row, sample.customer, sample.profile, campaign, now, data=data)
    except _SubjectFailed:
        pass  # already among the probe's failures
    except RenderError as exc:
        probe.failures.append(Problem(f"template {exc.where}", exc.problem, sample=sample.label))
        if probe.context is not None:  # the body failed: its subjects were never asked for
            probe.check_subjects(probe.context, campaign.name)
    except TemplateError as exc:
        probe.failures.append(Problem("", str(exc), sample=sample.label))
    return [Problem(p.where, p.message, p.field, sample.label) for p in probe.failures]


class _SubjectFailed(TemplateError):
    """The subject composing chose failed; the probe has recorded why."""


class _SubjectProbe(Renderer):
    """The sending renderer, except that each subject asked for renders every subject of the step
    with the same values (a subject in a language no template ships is checked too), and that the
    subjects are checked with the body's values when the body itself fails."""

    def __init__(self, templates_dir: Path | None = None) -> None:
        super().__init__(templates_dir)
        self.subjects: dict[Field, str] = {}
        self.failures: list[Problem] = []
        self.context: Mapping[str, Any] | None = None

    def render(self, template: str, locale: str, context: Mapping[str, Any]) -> RenderedBody:
        self.context = context
        return super().render(template, locale, context)

    def render_subject(self, source: str, context: Mapping[str, Any], *, name: str = "subject") -> str:
        if self.check_subjects(context, name).get(source):
            raise _SubjectFailed(name)
        return super().render_subject(source, context, name=name)

    def check_subjects(self, context: Mapping[str, Any], name: str) -> dict[str, bool]:
        """Render every subject of the step, recording failures; whether each source failed."""
        failed: dict[str, bool] = {}
        for field, source in self.subjects.items():
            try:
                super().render_subject(source, context, name=name)
            except RenderError as exc:
                line = "" if exc.where.endswith("line 1") else f" ({exc.where.replace('<string> ', '')})"
                self.failures.append(Problem(".".join(map(str, field)) + line, exc.problem, field))
                failed[source] = True
        return failed


def _without_dkim(sender: SenderSettings) -> SenderSettings:
    """Checking signs nothing: a missing DKIM key is the sender's problem, not the template's."""
    return sender.model_copy(update={"dkim_selector": None, "dkim_private_key": None,
                                     "dkim_private_key_file": None})


__all__ = ["LANGUAGES", "Checker", "Problem", "Sample", "check_campaign", "generic_samples",
           "synthetic_samples"]

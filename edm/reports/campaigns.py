"""What reports need to know of the campaign files: the name people read, and which campaigns have
no links (a greeting without one cannot be clicked, so its click rate is "no links", not 0%).

The store keeps only a campaign's slug; this reads the files. Pure except `read_facts`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from edm.campaigns.labels import display_name
from edm.campaigns.loader import read_campaigns
from edm.campaigns.schema import Campaign
from edm.errors import EdmError


@dataclass(frozen=True)
class CampaignFacts:
    titles: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # slug -> (English, Chinese)
    unlinked: frozenset[str] = frozenset()  # campaigns whose mail has nothing to click

    @property
    def names(self) -> dict[str, str]:
        """slug -> "English title 中文标题" (the Chinese only where it differs), for tables."""
        return {slug: english if chinese == english else f"{english} {chinese}"
                for slug, (english, chinese) in self.titles.items()}

    def chart_names(self, bilingual: Callable[[str, str], str]) -> dict[str, str]:
        """slug -> the name a chart draws: `bilingual` drops the Chinese without a CJK font."""
        return {slug: english if chinese == english else bilingual(english, chinese)
                for slug, (english, chinese) in self.titles.items()}


def report_title(name: str, titles: Mapping[str, str] | None) -> tuple[str, str]:
    """A campaign as the (English and Chinese) reports name it: its English and its simplified Chinese
    title (edm.campaigns.labels.display_name: the English one or the slug humanised when missing)."""
    return display_name(name, titles, "en"), display_name(name, titles, "zh-Hans")


def has_links(campaign: Campaign) -> bool:
    """Whether its mail carries something to click besides the footer: its `links:`, or a survey's
    answer buttons (an answer is a click)."""
    return bool(campaign.links) or campaign.kind == "survey"


def campaign_facts(campaigns: Mapping[str, Campaign]) -> CampaignFacts:
    return CampaignFacts(
        titles={name: report_title(name, campaign.title) for name, campaign in campaigns.items()},
        unlinked=frozenset(name for name, campaign in campaigns.items() if not has_links(campaign)),
    )


def read_facts(folder: Path) -> CampaignFacts:
    """The facts of every campaign in `folder` that loads; none when there is no such folder (a
    report still reads the store: slugs for names, every campaign taken to have links)."""
    try:
        found = read_campaigns(folder)
    except EdmError:
        return CampaignFacts()
    return campaign_facts({name: loaded.campaign for name, loaded in found.files.items()})

"""Load campaign files from disk, with errors that name file, line and field."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edm.campaigns.schema import Campaign
from edm.errors import CampaignError, TemplateError
from edm.render import check_template
from edm.yamlfile import load_model


@dataclass(frozen=True)
class CampaignFile:
    path: Path
    campaign: Campaign


def load_campaign(path: Path) -> CampaignFile:
    """Parse and check one campaign file, including that its template exists."""
    campaign = load_model(path, Campaign, CampaignError)
    templates = {"template": campaign.template}
    templates.update({f"variants.{v.name}.template": v.template for v in campaign.variants if v.template})
    steps = enumerate(campaign.follow_ups)
    templates.update({f"follow_ups.{n}.template": step.template for n, step in steps if step.template})
    for field, template in templates.items():
        try:
            check_template(template)
        except TemplateError as exc:
            raise CampaignError(f"{path}: {field}: {exc}") from exc
    return CampaignFile(path, campaign)


def load_campaigns(folder: Path) -> dict[str, CampaignFile]:
    """Every `*.yaml` / `*.yml` campaign in `folder`, by name; all errors reported at once."""
    if not folder.is_dir():
        raise CampaignError(f"{folder}: no such campaigns folder")
    found: dict[str, CampaignFile] = {}
    problems: list[str] = []
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
        try:
            loaded = load_campaign(path)
        except CampaignError as exc:
            problems.append(str(exc))
            continue
        name = loaded.campaign.name
        if name in found:
            problems.append(f"{path}: name: {name!r} is already used by {found[name].path}")
        found[name] = loaded
    if problems:
        raise CampaignError("\n".join(problems))
    return found


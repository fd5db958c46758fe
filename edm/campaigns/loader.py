"""Load campaign files from disk, with errors that name file, line and field.

`load_campaigns` is all or nothing (for commands that need the whole folder right);
`read_campaigns` keeps the good files and lists the broken ones, so that one broken file
never stops the other campaigns from being planned (`edm campaign run --all`, the daemon).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from edm.campaigns.check import Problem
from edm.campaigns.schema import Campaign
from edm.errors import CampaignError, EdmError, TemplateError
from edm.render import check_template
from edm.yamlfile import load_model, load_yaml, position


@dataclass(frozen=True)
class CampaignFile:
    path: Path
    campaign: Campaign


@dataclass(frozen=True)
class CampaignFolder:
    """The campaigns of a folder that loaded, by name, and one message per file that did not."""

    files: dict[str, CampaignFile] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def load_campaign(path: Path) -> CampaignFile:
    """Parse and check one campaign file, including that its template exists."""
    campaign = load_model(path, Campaign, CampaignError)
    templates = {"template": campaign.template}
    templates.update({f"variants.{v.name}.template": v.template for v in campaign.variants if v.template})
    steps = enumerate(campaign.follow_ups)
    templates.update({f"follow_ups.{n}.template": step.template for n, step in steps if step.template})
    for name, template in templates.items():
        try:
            check_template(template)
        except TemplateError as exc:
            raise CampaignError(f"{path}: {name}: {exc}") from exc
    return CampaignFile(path, campaign)


def read_campaigns(folder: Path) -> CampaignFolder:
    """Every `*.yaml` / `*.yml` campaign in `folder` that loads, by name; the others as problems.

    Two files using one name are both left out: running either could be the wrong one.
    """
    if not folder.is_dir():
        raise CampaignError(f"{folder}: no such campaigns folder")
    found: dict[str, CampaignFile] = {}
    problems: list[str] = []
    clashing: set[str] = set()
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
        try:
            loaded = load_campaign(path)
        except CampaignError as exc:
            problems.append(str(exc))
            continue
        name = loaded.campaign.name
        if name in found:
            problems.append(f"{path}: name: {name!r} is already used by {found[name].path}")
            clashing.add(name)
        else:
            found[name] = loaded
    return CampaignFolder({n: f for n, f in found.items() if n not in clashing}, problems)


def load_campaigns(folder: Path) -> dict[str, CampaignFile]:
    """Every campaign in `folder`, by name; raises with all errors at once if any file is broken."""
    loaded = read_campaigns(folder)
    if loaded.problems:
        raise CampaignError("\n".join(loaded.problems))
    return loaded.files


def describe_problems(loaded: CampaignFile, problems: Sequence[Problem]) -> list[str]:
    """One line per problem, naming the file, and for a key of the file (a subject) its line."""
    root = None
    if any(p.field for p in problems):
        try:
            root = load_yaml(loaded.path, CampaignError)[1]
        except EdmError:
            root = None  # changed since it was loaded: name the key without its line
    lines = []
    for problem in problems:
        at = position(root, problem.field) if problem.field and root is not None else None
        where = f"{loaded.path}:{at[0]}:{at[1]}" if at else f"{loaded.path}"
        lines.append(f"{where}: {problem}")
    return lines

"""`edm campaign schema`: the JSON Schema editors use accepts what edm accepts, and flags what it refuses."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from edm.campaigns.schema import Campaign
from edm.cli import main
from edm.resources import bundled_config_dir


@pytest.fixture(scope="module")
def validator(tmp_path_factory: pytest.TempPathFactory) -> jsonschema.Draft202012Validator:
    out = tmp_path_factory.mktemp("schema") / "campaign.schema.json"
    result = CliRunner().invoke(main, ["campaign", "schema", "--out", str(out)], catch_exceptions=False)
    assert result.exit_code == 0 and f"wrote {out}" in result.output
    schema = json.loads(out.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


BASE = {"name": "x", "template": "win_back", "subject": {"en": "Hi"}}


def test_every_bundled_campaign_is_valid(validator: jsonschema.Draft202012Validator) -> None:
    files = sorted((bundled_config_dir() / "campaigns").glob("*.yaml"))
    assert files
    for path in files:
        validator.validate(yaml.safe_load(path.read_text(encoding="utf-8")))


@pytest.mark.parametrize(
    "audience",
    [
        {"tiers": "high", "order_count": 3},  # one value for a list, a number for a range
        {"any": [{"loyalty": ["loyal"]}, {"not": {"churn_kind": "partial"}}]},
        {"days_since_last_order": {"more_than": 90, "at_most": 365}, "dropped_line": "valves"},
    ],
)
def test_shorthands_edm_accepts_are_valid_too(
    validator: jsonschema.Draft202012Validator, audience: dict[str, Any]
) -> None:
    Campaign.model_validate({**BASE, "audience": audience})
    validator.validate({**BASE, "audience": audience})


@pytest.mark.parametrize(
    "audience",
    [{"tier": "high"}, {"tiers": "platinum"}, {"any": {"tiers": "high"}}, {"order_count": {"more": 3}}],
)
def test_what_edm_refuses_the_schema_flags(
    validator: jsonschema.Draft202012Validator, audience: dict[str, Any]
) -> None:
    with pytest.raises(ValueError):
        Campaign.model_validate({**BASE, "audience": audience})
    assert list(validator.iter_errors({**BASE, "audience": audience}))

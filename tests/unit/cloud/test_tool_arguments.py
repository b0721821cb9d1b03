"""Tool argument models: the advertised JSON schema and what validation accepts agree."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from cloud_api.tools.arguments import (
    CancelBookingArgs,
    OpeningHoursArgs,
    UpdateFitnessGoalArgs,
    parameters_schema,
)
from cloud_api.tools.registry import TOOLS, realtime_tools


def walk(schema: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(schema, dict):
        found.append(schema)
        for value in schema.values():
            found += walk(value)
    elif isinstance(schema, list):
        for item in schema:
            found += walk(item)
    return found


@pytest.mark.parametrize("name", sorted(TOOLS))
def test_schema_matches_the_model(name: str) -> None:
    model = TOOLS[name].arguments
    schema = parameters_schema(model)
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == set(model.model_fields)
    required = {n for n, f in model.model_fields.items() if f.is_required()}
    assert set(schema.get("required", [])) == required
    for node in walk(schema):
        assert "$ref" not in node
        assert "$defs" not in node
    # No pydantic `title` noise anywhere but as a property name.
    assert all("title" not in node or node is schema["properties"] for node in walk(schema))
    for prop in schema["properties"].values():
        assert prop.get("description"), (name, prop)
    # Extra properties are refused, as the schema says.
    with pytest.raises(ValidationError):
        model.model_validate({"unexpected": 1})


def test_realtime_definitions() -> None:
    tools = realtime_tools()
    assert [t["name"] for t in tools] == list(TOOLS)
    for tool in tools:
        assert set(tool) == {"type", "name", "description", "parameters"}
        assert tool["type"] == "function"
        assert 1 <= len(tool["name"]) <= 64


def test_enums_in_the_schema_are_what_validation_accepts() -> None:
    days = parameters_schema(OpeningHoursArgs)["properties"]["day"]["enum"]
    for day in days:
        assert OpeningHoursArgs(day=day).day == day
    with pytest.raises(ValidationError):
        OpeningHoursArgs(day="someday")  # type: ignore[arg-type]
    goals = parameters_schema(UpdateFitnessGoalArgs)["properties"]["add_goals"]["items"]["enum"]
    assert UpdateFitnessGoalArgs(add_goals=goals).add_goals == goals


def test_cancel_needs_exactly_one_id() -> None:
    with pytest.raises(ValidationError, match="exactly one"):
        CancelBookingArgs()
    with pytest.raises(ValidationError, match="exactly one"):
        CancelBookingArgs.model_validate(
            {
                "booking_id": "7f3c1a52-0c1b-4c59-9b43-3bd1c1e7a001",
                "class_id": "7f3c1a52-0c1b-4c59-9b43-3bd1c1e7a002",
            }
        )


def test_a_goal_cannot_be_added_and_removed() -> None:
    with pytest.raises(ValidationError, match="both added and removed"):
        UpdateFitnessGoalArgs(add_goals=["endurance"], remove_goals=["endurance"])
    assert not UpdateFitnessGoalArgs().changes_anything
    assert UpdateFitnessGoalArgs(workout_frequency_per_week=0).changes_anything


def test_text_with_nul_is_refused_before_it_reaches_postgres() -> None:
    from cloud_api.tools.arguments import ReportEquipmentIssueArgs

    with pytest.raises(ValidationError, match="NUL"):
        ReportEquipmentIssueArgs(equipment="rameur\x00", problem="cassé")


def _bounds(prop: dict[str, Any]) -> dict[str, Any]:
    """The non-null branch of an optional property."""
    for branch in prop.get("anyOf", []):
        if branch.get("type") != "null":
            return {**branch, **{k: v for k, v in prop.items() if k != "anyOf"}}
    return prop


@pytest.mark.parametrize("name", sorted(TOOLS))
def test_every_argument_is_bounded_and_the_model_is_told_the_bounds(name: str) -> None:
    """Each number has a minimum and a maximum, each text a maximum length, each list a
    maximum size; the values at the bounds pass validation and the values past them fail."""
    model = TOOLS[name].arguments
    for field, raw in parameters_schema(model)["properties"].items():
        prop = _bounds(raw)
        kind = prop.get("type")
        if "enum" in prop or prop.get("format") == "uuid":
            continue
        valid: list[Any]
        invalid: list[Any]
        if kind in ("integer", "number"):
            assert {"minimum", "maximum"} <= set(prop), (name, field, prop)
            valid = [prop["minimum"], prop["maximum"]]
            step = 1 if kind == "integer" else 0.001
            invalid = [prop["minimum"] - step, prop["maximum"] + step]
        elif kind == "string":
            assert "maxLength" in prop, (name, field, prop)
            valid = ["x" * prop["maxLength"]]
            invalid = ["x" * (prop["maxLength"] + 1)]
            if prop.get("minLength"):
                invalid.append("x" * (prop["minLength"] - 1))
        elif kind == "array":
            assert "maxItems" in prop, (name, field, prop)
            continue  # items are enums here: their bounds are the enum's
        else:
            raise AssertionError(f"{name}.{field}: unbounded kind {kind!r}: {prop}")
        for value in valid:
            model.model_validate({**_required(model), field: value})
        for value in invalid:
            with pytest.raises(ValidationError):
                model.model_validate({**_required(model), field: value})


def _required(model: Any) -> dict[str, Any]:
    """Valid values for the model's required fields, taken from its schema."""
    values: dict[str, Any] = {}
    schema = parameters_schema(model)
    for field in schema.get("required", []):
        prop = _bounds(schema["properties"][field])
        if prop.get("format") == "uuid":
            values[field] = "7f3c1a52-0c1b-4c59-9b43-3bd1c1e7a001"
        elif prop.get("type") == "string":
            values[field] = "x" * max(prop.get("minLength", 1), 3)
    return values

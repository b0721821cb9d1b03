"""JARVIS's tool arguments: one pydantic model per tool.

Each model is both the validator of a call's arguments and, through `parameters_schema`,
the JSON schema the session configuration advertises to the model: what the assistant is
told it may send is exactly what the cloud accepts.
"""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Day = Literal[
    "today",
    "tomorrow",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
]
GoalKind = Literal[
    "weight_loss", "muscle_gain", "endurance", "flexibility", "general_health", "rehabilitation"
]
Priority = Literal["low", "medium", "high", "urgent"]


class ToolArguments(BaseModel):
    # Every number, text and list below is bounded, and the bounds are in the schema the
    # model is given (tests/unit/cloud/test_tool_arguments.py holds both to that).
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # Postgres text cannot hold NUL: refuse it here, as an argument the model can fix.
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("text must not contain NUL characters")
        return value


class OpeningHoursArgs(ToolArguments):
    day: Literal[Day, "week"] = Field(
        default="week", description="The day asked about, or `week` for the whole week."
    )


class ClassScheduleArgs(ToolArguments):
    day: Day = Field(default="today", description="First day to list (gym's local time).")
    days: int = Field(default=1, ge=1, le=7, description="How many days to list from `day`.")
    name: str | None = Field(
        default=None,
        min_length=2,
        max_length=60,
        description="Only classes whose name contains this, e.g. `yoga`.",
    )


class BookClassArgs(ToolArguments):
    class_id: UUID = Field(description="The class's `id`, from get_class_schedule.")


class CancelBookingArgs(ToolArguments):
    booking_id: UUID | None = Field(
        default=None, description="The booking's `booking_id`, when known."
    )
    class_id: UUID | None = Field(
        default=None, description="Or the class's `id`: cancels the member's booking on it."
    )

    @model_validator(mode="after")
    def _one_of(self) -> CancelBookingArgs:
        if (self.booking_id is None) == (self.class_id is None):
            raise ValueError("give exactly one of booking_id or class_id")
        return self


class ReportEquipmentIssueArgs(ToolArguments):
    equipment: str = Field(
        min_length=2,
        max_length=120,
        description="The machine or equipment as the member names it, e.g. `treadmill 3`.",
    )
    problem: str = Field(
        min_length=3, max_length=1000, description="What is wrong, in the member's words."
    )
    location: str | None = Field(
        default=None, max_length=120, description="Where in the gym, if the member said."
    )
    severity: Priority = Field(
        default="medium", description="`urgent` only when someone could get hurt."
    )


class MemberProgressArgs(ToolArguments):
    pass


class UpdateFitnessGoalArgs(ToolArguments):
    add_goals: list[GoalKind] = Field(
        default_factory=list, max_length=6, description="Goals to add to the member's goals."
    )
    remove_goals: list[GoalKind] = Field(
        default_factory=list, max_length=6, description="Goals to drop."
    )
    target_weight_kg: float | None = Field(
        default=None, ge=30, le=300, description="New target weight, in kilograms."
    )
    workout_frequency_per_week: int | None = Field(
        default=None, ge=0, le=14, description="New number of workouts per week aimed at."
    )

    @model_validator(mode="after")
    def _something_changes(self) -> UpdateFitnessGoalArgs:
        both = set(self.add_goals) & set(self.remove_goals)
        if both:
            raise ValueError(f"a goal cannot be both added and removed: {sorted(both)}")
        return self

    @property
    def changes_anything(self) -> bool:
        return bool(
            self.add_goals
            or self.remove_goals
            or self.target_weight_kg is not None
            or self.workout_frequency_per_week is not None
        )


class EscalateToStaffArgs(ToolArguments):
    reason: str = Field(
        min_length=3,
        max_length=1000,
        description="Why a person is needed, in one or two sentences.",
    )
    urgency: Priority = Field(
        default="medium", description="`urgent` for an injury, a malaise or a safety issue."
    )


class SearchKnowledgeArgs(ToolArguments):
    query: str = Field(
        min_length=2, max_length=300, description="The member's question, in their words."
    )
    limit: int = Field(default=3, ge=1, le=5, description="How many passages to return.")


class EndSessionArgs(ToolArguments):
    reason: Literal["goodbye", "member_request", "no_response", "other"] = Field(
        default="goodbye", description="Why the conversation ends."
    )


def _strip_titles(schema: Any) -> Any:
    """pydantic's schema without `title` keys (noise to the model); property *names* that
    happen to be `title` are kept."""
    if isinstance(schema, dict):
        cleaned: dict[str, Any] = {}
        for key, value in schema.items():
            if key == "title":
                continue
            if key == "properties" and isinstance(value, dict):
                cleaned[key] = {name: _strip_titles(sub) for name, sub in value.items()}
            else:
                cleaned[key] = _strip_titles(value)
        return cleaned
    if isinstance(schema, list):
        return [_strip_titles(item) for item in schema]
    return schema


def parameters_schema(model: type[ToolArguments]) -> dict[str, Any]:
    """The JSON schema of a tool's arguments, as advertised in the session's `tools`."""
    schema: dict[str, Any] = _strip_titles(model.model_json_schema())
    schema.setdefault("properties", {})
    schema["additionalProperties"] = False
    if "$defs" in schema:  # every argument type above is inline; keep it that way
        raise ValueError(f"{model.__name__}: tool schemas must not use $defs")
    return schema

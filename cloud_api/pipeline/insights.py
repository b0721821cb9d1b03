"""Weekly insights per gym and per franchise: KPIs, trends against the week before, top
topics, and recommendations (written by OpenAI with a key, by rules without).

Metrics come from one SQL function over every gym (private.worker_weekly_metrics); this
module turns them into reports. Rules are deliberately few and actionable.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import openai
from openai import AsyncOpenAI
from pydantic import BaseModel, ConfigDict

log = logging.getLogger("jarvis.insights")

TEXTS = {
    "fr": {
        "title": "Rapport hebdomadaire — {name}",
        "summary": "{sessions} conversations ({trend_sessions}) avec {members} membres, "
        "humeur moyenne {sentiment}, {alerts} alerte(s) levée(s), {critical} membre(s) à "
        "risque critique.",
        "equipment": "Plusieurs équipements signalés ({n}) : planifier une tournée de "
        "maintenance cette semaine.",
        "mood": "L'humeur des membres baisse ({before} → {after}) : lire les conversations "
        "négatives et rappeler les membres concernés.",
        "churn": "{n} membre(s) à risque critique : les appeler avant la fin de la semaine.",
        "quiet": "Moins de conversations que la semaine passée ({before} → {after}) : "
        "rappeler JARVIS aux membres à l'accueil.",
        "backlog": "{n} alerte(s) levée(s), {m} résolue(s) : traiter les alertes en attente.",
        "fine": "Semaine calme : rien d'urgent, continuer ainsi.",
        "topic": "Sujet le plus abordé : {topic} ({n} conversations).",
    },
    "en": {
        "title": "Weekly report — {name}",
        "summary": "{sessions} conversations ({trend_sessions}) with {members} members, "
        "average mood {sentiment}, {alerts} alert(s) raised, {critical} member(s) at critical "
        "churn risk.",
        "equipment": "Several equipment issues ({n}): plan a maintenance round this week.",
        "mood": "Members' mood is falling ({before} → {after}): read the negative "
        "conversations and call those members back.",
        "churn": "{n} member(s) at critical risk: call them before the end of the week.",
        "quiet": "Fewer conversations than last week ({before} → {after}): remind members "
        "about JARVIS at the front desk.",
        "backlog": "{n} alert(s) raised, {m} resolved: work through the pending alerts.",
        "fine": "A quiet week: nothing urgent, keep it up.",
        "topic": "Most discussed: {topic} ({n} conversations).",
    },
}


def _num(value: Any) -> float:
    return float(Decimal(str(value))) if value is not None else 0.0


def trends(current: dict[str, Any], previous: dict[str, Any]) -> dict[str, Any]:
    """Change against the week before: relative for counts, absolute for the mood."""
    result: dict[str, Any] = {}
    for key in ("sessions", "members_talking", "minutes", "alerts_raised", "equipment_issues"):
        now, before = _num(current.get(key)), _num(previous.get(key))
        result[key] = {
            "current": now,
            "previous": before,
            "change_pct": None if before == 0 else round(100 * (now - before) / before, 1),
        }
    now_s, before_s = current.get("avg_sentiment"), previous.get("avg_sentiment")
    result["avg_sentiment"] = {
        "current": now_s,
        "previous": before_s,
        "change": None
        if now_s is None or before_s is None
        else round(_num(now_s) - _num(before_s), 2),
    }
    return result


def rule_recommendations(
    metrics: dict[str, Any], trend: dict[str, Any], topics: list[dict[str, Any]], language: str
) -> list[str]:
    t = TEXTS["en" if language == "en" else "fr"]
    out: list[str] = []
    if _num(metrics.get("equipment_issues")) >= 2:
        out.append(t["equipment"].format(n=int(_num(metrics["equipment_issues"]))))
    mood = trend["avg_sentiment"]
    if mood["change"] is not None and mood["change"] <= -0.15:
        out.append(t["mood"].format(before=mood["previous"], after=mood["current"]))
    if _num(metrics.get("churn_critical")) > 0:
        out.append(t["churn"].format(n=int(_num(metrics["churn_critical"]))))
    sessions = trend["sessions"]
    if sessions["change_pct"] is not None and sessions["change_pct"] <= -25:
        out.append(
            t["quiet"].format(before=int(sessions["previous"]), after=int(sessions["current"]))
        )
    raised, resolved = _num(metrics.get("alerts_raised")), _num(metrics.get("alerts_resolved"))
    if raised >= 3 and resolved < raised / 2:
        out.append(t["backlog"].format(n=int(raised), m=int(resolved)))
    return out or [t["fine"]]


def summary_text(name: str, metrics: dict[str, Any], trend: dict[str, Any], language: str) -> str:
    t = TEXTS["en" if language == "en" else "fr"]
    pct = trend["sessions"]["change_pct"]
    return t["summary"].format(
        sessions=int(_num(metrics.get("sessions"))),
        trend_sessions="n/a" if pct is None else f"{pct:+.0f} %",
        members=int(_num(metrics.get("members_talking"))),
        sentiment=metrics.get("avg_sentiment") if metrics.get("avg_sentiment") is not None else "—",
        alerts=int(_num(metrics.get("alerts_raised"))),
        critical=int(_num(metrics.get("churn_critical"))),
    )


class WrittenRecommendations(BaseModel):
    model_config = ConfigDict(extra="forbid")

    summary: str
    recommendations: list[str]


async def model_recommendations(
    client: AsyncOpenAI, model: str, report: dict[str, Any], language: str, max_tokens: int
) -> WrittenRecommendations | None:
    """The model's summary and recommendations for one report; None when it cannot (the
    rule-based ones stay)."""
    prompt = (
        "You write the weekly report of a gym for its manager, in "
        f"{'English' if language == 'en' else 'French'}: a two-sentence summary and at most "
        "four concrete recommendations, from these figures only (JSON):\n"
        + json.dumps({k: report[k] for k in ("metrics", "trends", "insights")}, default=str)
    )
    try:
        completion = await client.chat.completions.parse(
            model=model,
            messages=[{"role": "user", "content": prompt}],
            response_format=WrittenRecommendations,
            max_completion_tokens=max_tokens,
            temperature=0,
        )
    except (openai.OpenAIError, ValueError) as exc:
        log.warning("weekly report recommendations by the model failed: %s", exc)
        return None
    parsed = completion.choices[0].message.parsed
    if parsed is None:
        return None
    parsed.recommendations = [r.strip() for r in parsed.recommendations if r.strip()][:4]
    return parsed if parsed.recommendations else None


def build_reports(rows: list[dict[str, Any]], week_start: datetime) -> list[dict[str, Any]]:
    """One report per gym, and one per franchise summing its gyms."""
    end = week_start + timedelta(days=7)
    reports: list[dict[str, Any]] = []
    franchises: dict[Any, dict[str, Any]] = {}
    for row in rows:
        lang = row["language"]
        current, previous = row["current"], row["previous"]
        trend = trends(current, previous)
        topics = row["top_topics"]
        insights = [
            TEXTS["en" if lang == "en" else "fr"]["topic"].format(topic=t["topic"], n=t["sessions"])
            for t in topics[:1]
        ]
        reports.append(
            {
                "gym_id": str(row["gym_id"]),
                "franchise_id": None,
                "report_type": "weekly",
                "period_start": week_start.isoformat(),
                "period_end": end.isoformat(),
                "title": TEXTS["en" if lang == "en" else "fr"]["title"].format(
                    name=row["gym_name"]
                ),
                "summary": summary_text(row["gym_name"], current, trend, lang),
                "insights": insights,
                "metrics": {**current, "top_topics": topics},
                "recommendations": rule_recommendations(current, trend, topics, lang),
                "trends": trend,
                "_language": lang,
            }
        )
        if row["franchise_id"] is not None:
            f = franchises.setdefault(
                row["franchise_id"], {"current": {}, "previous": {}, "gyms": 0, "lang": lang}
            )
            f["gyms"] += 1
            for period in ("current", "previous"):
                for key, value in row[period].items():
                    if key == "avg_sentiment":
                        continue
                    f[period][key] = _num(f[period].get(key)) + _num(value)
    for franchise_id, f in franchises.items():
        trend = trends(f["current"], f["previous"])
        lang = f["lang"]
        reports.append(
            {
                "gym_id": None,
                "franchise_id": str(franchise_id),
                "report_type": "weekly",
                "period_start": week_start.isoformat(),
                "period_end": end.isoformat(),
                "title": TEXTS["en" if lang == "en" else "fr"]["title"].format(
                    name=f"{f['gyms']} gyms"
                ),
                "summary": summary_text(f"{f['gyms']} gyms", f["current"], trend, lang),
                "insights": [],
                "metrics": {**f["current"], "gyms": f["gyms"]},
                "recommendations": rule_recommendations(f["current"], trend, [], lang),
                "trends": trend,
                "_language": lang,
            }
        )
    return reports

"""Recording a promotion decision in the MLflow model registry and moving the `champion` alias.

The decision is written (version tags, version description, run tags) before the alias moves,
and the alias moves only for "promoted" or "forced": a refusal can never move it.
"""
from __future__ import annotations

from dataclasses import dataclass

from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion

from models.governance.criteria import CriterionResult

CHAMPION = "champion"
PREFIX = "promotion."


@dataclass(frozen=True)
class Decision:
    """What was decided, when, by whom and on which criteria. `decision` is promoted
    (every criterion met), forced (failures overridden with a reason) or refused."""

    decision: str
    date: str            # ISO 8601, UTC
    by: str
    criteria_hash: str
    criteria_file: str
    champion_before: str | None  # version number, or None
    results: list[CriterionResult]
    reason: str | None = None

    @property
    def moves_alias(self) -> bool:
        return self.decision in ("promoted", "forced")

    def tags(self) -> dict[str, str]:
        tags = {"decision": self.decision, "date": self.date, "by": self.by,
                "criteria_hash": self.criteria_hash, "criteria_file": self.criteria_file,
                "champion_before": self.champion_before or "none",
                "failed": ",".join(r.name for r in self.results if not r.passed) or "none"}
        if self.reason is not None:
            tags["reason"] = self.reason
        tags |= {f"criterion.{r.name}": r.summary() for r in self.results}
        return {PREFIX + key: value for key, value in tags.items()}

    def description(self, name: str, version: str) -> str:
        failed = [r for r in self.results if not r.passed]
        head = {"promoted": f"Promoted to {CHAMPION}: every criterion met.",
                "forced": f"Promoted to {CHAMPION} despite {len(failed)} failed criteria "
                          f"(forced; reason: {self.reason}).",
                "refused": f"Refused as {CHAMPION}: {len(failed)} criteria failed "
                           f"({', '.join(r.name for r in failed)})."}[self.decision]
        lines = [f"{self.date} — {name} version {version}. {head}",
                 f"Decided by {self.by}; criteria {self.criteria_file} "
                 f"(sha256 {self.criteria_hash[:12]}); champion before: "
                 f"{'version ' + self.champion_before if self.champion_before else 'none'}."]
        lines += [f"- {r.name}: {r.summary()}" for r in self.results]
        return "\n".join(lines)


def record(client: MlflowClient, version: ModelVersion, decision: Decision) -> None:
    """Tag the model version and its training run, and append the decision to the version's
    description (earlier decisions stay below: the description is the audit trail)."""
    for key, value in decision.tags().items():
        client.set_model_version_tag(version.name, version.version, key, value)
    summary = decision.description(version.name, version.version)
    earlier = client.get_model_version(version.name, version.version).description
    client.update_model_version(version.name, version.version,
                                description=summary + ("\n\n" + earlier if earlier else ""))
    if version.run_id:
        for key in ("decision", "date", "by", "criteria_hash"):
            client.set_tag(version.run_id, PREFIX + key, decision.tags()[PREFIX + key])
        client.set_tag(version.run_id, PREFIX + "model_version",
                       f"{version.name}/{version.version}")
        if decision.reason is not None:
            client.set_tag(version.run_id, PREFIX + "reason", decision.reason)


def move_champion(client: MlflowClient, version: ModelVersion) -> None:
    client.set_registered_model_alias(version.name, CHAMPION, version.version)

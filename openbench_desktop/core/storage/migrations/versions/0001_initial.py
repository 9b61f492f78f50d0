"""The first schema: runs, run_tags, samples.

Revision ID: 0001
Revises:
Create Date: 2026-11-23

Spelled out here rather than ``metadata.create_all()``: a migration is history and must
keep creating *this* schema after ``tables.py`` moves on.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("run_id", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.Column("started_at", sa.Text(), nullable=True),
        sa.Column("finished_at", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("benchmark", sa.Text(), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("base_url", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("n_total", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("n_done", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("n_ok", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("n_failed", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("n_correct", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("accuracy", sa.Float(), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("cost_usd", sa.Float(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("hostname", sa.Text(), nullable=True),
        sa.Column("spec_json", sa.Text(), nullable=False),
        sa.Column("manifest_json", sa.Text(), nullable=True),
        sa.Column("summary_json", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("run_id", name="pk_runs"),
    )
    op.create_index("ix_runs_created_at_run_id", "runs", ["created_at", "run_id"])
    op.create_index("ix_runs_status_created_at_run_id", "runs", ["status", "created_at", "run_id"])
    op.create_index(
        "ix_runs_benchmark_created_at_run_id", "runs", ["benchmark", "created_at", "run_id"]
    )
    op.create_index("ix_runs_model_created_at_run_id", "runs", ["model", "created_at", "run_id"])

    op.create_table(
        "run_tags",
        sa.Column("run_id", sa.Text(), nullable=False),
        sa.Column("tag", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.run_id"], name="fk_run_tags_run_id_runs", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", "tag", name="pk_run_tags"),
    )
    op.create_index("ix_run_tags_tag", "run_tags", ["tag"])

    op.create_table(
        "samples",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Text(), nullable=False),
        sa.Column("sample_index", sa.Integer(), nullable=False),
        sa.Column("sample_id", sa.Text(), server_default="", nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("error_category", sa.Text(), nullable=True),
        sa.Column("finish_reason", sa.Text(), nullable=True),
        sa.Column("input_tokens", sa.Integer(), nullable=True),
        sa.Column("output_tokens", sa.Integer(), nullable=True),
        sa.Column("usage_reported", sa.Boolean(), nullable=False),
        sa.Column("streamed", sa.Boolean(), nullable=False),
        sa.Column("started_ns", sa.Integer(), nullable=False),
        sa.Column("end_offset_ns", sa.Integer(), nullable=True),
        sa.Column("ttft_ms", sa.Float(), nullable=True),
        sa.Column("itl_ms", sa.Float(), nullable=True),
        sa.Column("e2e_ms", sa.Float(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("extracted", sa.Text(), nullable=True),
        sa.Column("expected", sa.Text(), server_default="", nullable=False),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("prompt", sa.Text(), server_default="", nullable=False),
        sa.Column("output", sa.Text(), server_default="", nullable=False),
        sa.Column("reasoning", sa.Text(), server_default="", nullable=False),
        sa.Column("chunk_kinds", sa.Text(), server_default="", nullable=False),
        sa.Column("chunk_offsets", sa.LargeBinary(), nullable=True),
        sa.Column("chunk_chars", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.run_id"], name="fk_samples_run_id_runs", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_samples"),
        sa.UniqueConstraint("run_id", "sample_index", name="uq_samples_run_id_sample_index"),
    )


def downgrade() -> None:
    op.drop_table("samples")
    op.drop_index("ix_run_tags_tag", table_name="run_tags")
    op.drop_table("run_tags")
    op.drop_index("ix_runs_model_created_at_run_id", table_name="runs")
    op.drop_index("ix_runs_benchmark_created_at_run_id", table_name="runs")
    op.drop_index("ix_runs_status_created_at_run_id", table_name="runs")
    op.drop_index("ix_runs_created_at_run_id", table_name="runs")
    op.drop_table("runs")

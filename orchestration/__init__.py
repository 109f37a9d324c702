"""Dagster definitions, resources, jobs and schedules for the ACO lineage."""

"""Synthetic ACO archive with ground truth: the embedded default dataset and the yardstick.

Pure code (numpy, scipy, pyarrow): never imports dagster, mlflow or duckdb.

>>> from aco_assets.synth import write_archive, read_catalog
>>> summary = write_archive("data/archive", preset="test", seed=0)  # doctest: +SKIP
>>> read_catalog(summary.root).to_pylist()[0]["class"]  # doctest: +SKIP
"""

from aco_assets.synth.archive import (
    PRESETS,
    SYNTH_VERSION,
    ArchivePreset,
    ArchiveSummary,
    SynthError,
    synthesize_file,
    write_archive,
)
from aco_assets.synth.catalog import (
    ALL_FAULT_CLASSES,
    CATALOG_NAME,
    CATALOG_SCHEMA,
    EVENT_SCHEMA,
    FAULT_CLASSES,
    FAULT_SCHEMA,
    FAULTS_NAME,
    MANIFEST_NAME,
    CatalogError,
    read_catalog,
    read_faults,
    read_manifest,
)
from aco_assets.synth.events import SOURCES, EventSound
from aco_assets.synth.render import PlacedEvent, band_power, render_file
from aco_assets.synth.schedule import EVENT_CLASSES, RULES, PlannedEvent, plan_events
from aco_assets.synth.soundscape import BackgroundParams, background

__all__ = [
    "ALL_FAULT_CLASSES",
    "EVENT_SCHEMA",
    "FAULT_SCHEMA",
    "FAULTS_NAME",
    "read_faults",
    "CATALOG_NAME",
    "CATALOG_SCHEMA",
    "EVENT_CLASSES",
    "FAULT_CLASSES",
    "MANIFEST_NAME",
    "PRESETS",
    "RULES",
    "SOURCES",
    "SYNTH_VERSION",
    "ArchivePreset",
    "ArchiveSummary",
    "BackgroundParams",
    "CatalogError",
    "EventSound",
    "PlacedEvent",
    "PlannedEvent",
    "SynthError",
    "background",
    "band_power",
    "plan_events",
    "read_catalog",
    "read_manifest",
    "render_file",
    "synthesize_file",
    "write_archive",
]

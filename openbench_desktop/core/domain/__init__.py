"""Plain, immutable data that crosses every boundary: threads, storage, exports, the GUI.

Everything here is a frozen dataclass (or an enum) built from plain Python values so it
can be handed from the engine thread to the GUI thread, written to SQLite and serialised
to JSON without adapters.
"""

from openbench_desktop.core.domain.events import (
    EngineEvent,
    Progress,
    RunCancelled,
    RunFailed,
    RunFinished,
    RunStarted,
    SamplesFinished,
)
from openbench_desktop.core.domain.run import (
    DatasetRef,
    GenerationParams,
    RunManifest,
    RunRecord,
    RunSpec,
    RunStatus,
    RunSummary,
)
from openbench_desktop.core.domain.sample import (
    ChunkKind,
    ErrorCategory,
    Message,
    Sample,
    SampleResult,
    SampleStatus,
)

__all__ = [
    "ChunkKind",
    "DatasetRef",
    "EngineEvent",
    "ErrorCategory",
    "GenerationParams",
    "Message",
    "Progress",
    "RunCancelled",
    "RunFailed",
    "RunFinished",
    "RunManifest",
    "RunRecord",
    "RunSpec",
    "RunStarted",
    "RunStatus",
    "RunSummary",
    "Sample",
    "SampleResult",
    "SampleStatus",
    "SamplesFinished",
]

"""Speed benchmarks: load profiles, a measuring client, metric definitions, self-check.

Qt-free, like all of ``core``. Entry points: :func:`.runner.execute_speed_run` (a run,
stored like every other) and :func:`.selfcheck.run_selfcheck` (the client's own ceiling
against the built-in loopback server). Definitions: ``docs/METRICS.md``, "Speed".
"""

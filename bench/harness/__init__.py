"""What the benchmarks share: the mesh's processes, /proc accounting, the machine's
description, numbers, and the docs/benchmarks.md section writer.

- ``processes``: a broker (``LocalKafka`` or ``NEXUS_KAFKA_BOOTSTRAP_SERVERS``), mesh
  processes (``python -m nexus_mesh.cli ...``) with their own ports, and their readiness;
- ``procstat``: CPU seconds and RSS of processes and of the machine, from /proc;
- ``machine``: the one-line machine description and the code revision;
- ``stats``: nearest-rank percentiles, medians and rounding;
- ``report``: Markdown number formatting and replacing one marked section of a document.
"""
